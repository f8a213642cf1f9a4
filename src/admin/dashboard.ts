import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The dashboard's own files, next to this module so any working directory works. */
export const DASHBOARD_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** uPlot comes from node_modules (no CDN: the page must work on an air-gapped host). */
function uplotDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('uplot/package.json')), 'dist');
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

async function load(file: string, type: string): Promise<Asset> {
  const body = await readFile(file);
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset, status = 200): FastifyReply {
  void reply
    .header('content-type', asset.type)
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
  if (asset.type.startsWith('text/html')) void reply.header('content-security-policy', CSP);
  if (status === 200 && request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.code(status).send(asset.body);
}

/** Loads the page files once; the HTML route and the public asset routes serve them from memory. */
export async function loadDashboard(): Promise<{
  page: (request: FastifyRequest, reply: FastifyReply, status?: number) => FastifyReply;
  registerAssets: (app: FastifyInstance) => void;
}> {
  const uplot = uplotDir();
  const [html, js, css, uplotJs, uplotCss] = await Promise.all([
    load(join(DASHBOARD_DIR, 'index.html'), 'text/html; charset=utf-8'),
    load(join(DASHBOARD_DIR, 'dashboard.js'), 'text/javascript; charset=utf-8'),
    load(join(DASHBOARD_DIR, 'dashboard.css'), 'text/css; charset=utf-8'),
    load(join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'),
    load(join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8'),
  ]);
  const assets: Record<string, Asset> = { 'dashboard.js': js, 'dashboard.css': css, 'uplot.js': uplotJs, 'uplot.css': uplotCss };
  return {
    page: (request, reply, status = 200) => send(request, reply, html, status),
    // The assets are the page's code and styles only, never data: they stay public so the page can show
    // its token prompt before the operator typed the token.
    registerAssets: (app) => {
      for (const [name, asset] of Object.entries(assets)) app.get(`/dashboard/assets/${name}`, (request, reply) => send(request, reply, asset));
    },
  };
}

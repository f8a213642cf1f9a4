import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { loadStaticAsset as load, sendStaticAsset as send, type StaticAsset as Asset } from '../http/static-asset.js';

/** The dashboard's own files, next to this module so any working directory works. */
export const DASHBOARD_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** uPlot comes from node_modules (no CDN: the page must work on an air-gapped host). */
function uplotDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('uplot/package.json')), 'dist');
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

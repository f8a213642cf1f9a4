import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The page's files, next to this module so the gateway serves them from any working directory. */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const ASSETS = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/chat.js', file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  { route: '/chat.css', file: 'chat.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * The page may talk only to its own origin: no inline code, no third-party fonts or scripts. `'self'` in
 * connect-src covers the same-origin ws:/wss: socket (CSP Level 3).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface LoadedAsset {
  route: string;
  type: string;
  body: Buffer;
  etag: string;
}

/**
 * Reads the three page files once (they are a few KB) and registers a GET route for each, answering
 * 304 to a matching `If-None-Match` so a phone on a slow link revalidates instead of downloading again.
 */
export async function registerStaticAssets(app: FastifyInstance, dir: string = PUBLIC_DIR): Promise<void> {
  const assets: LoadedAsset[] = await Promise.all(
    ASSETS.map(async (a) => {
      const body = await readFile(join(dir, a.file));
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
      return { route: a.route, type: a.type, body, etag };
    }),
  );
  for (const asset of assets) {
    app.get(asset.route, async (request, reply) => {
      void reply
        .header('content-type', asset.type)
        .header('cache-control', 'no-cache')
        .header('etag', asset.etag)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer');
      if (asset.type.startsWith('text/html')) void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.send(asset.body);
    });
  }
}

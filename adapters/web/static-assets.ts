import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { loadStaticAsset, sendStaticAsset } from '../../src/http/static-asset.js';

/** The page's files, next to this module so the gateway serves them from any working directory. */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const ASSETS = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/chat.js', file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  { route: '/chat.css', file: 'chat.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * Reads the three page files once (they are a few KB) and registers a GET route for each.
 */
export async function registerStaticAssets(app: FastifyInstance, dir: string = PUBLIC_DIR): Promise<void> {
  const assets = await Promise.all(ASSETS.map(async (a) => ({ route: a.route, asset: await loadStaticAsset(join(dir, a.file), a.type) })));
  for (const { route, asset } of assets) app.get(route, async (request, reply) => sendStaticAsset(request, reply, asset));
}

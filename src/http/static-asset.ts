import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A small file served from memory with a content hash as its ETag. */
export interface StaticAsset {
  type: string;
  body: Buffer;
  etag: string;
}

/**
 * Pages may talk only to their own origin: no inline code, no third-party fonts or scripts. `'self'` in
 * connect-src covers a same-origin ws:/wss: socket (CSP Level 3).
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Reads a file once; pages are a few KB and served from memory. */
export async function loadStaticAsset(file: string, type: string): Promise<StaticAsset> {
  const body = await readFile(file);
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

/**
 * Sends an asset with safe headers (CSP on HTML), answering 304 to a matching `If-None-Match` so a phone
 * on a slow link revalidates instead of downloading again.
 */
export function sendStaticAsset(request: FastifyRequest, reply: FastifyReply, asset: StaticAsset, status = 200): FastifyReply {
  void reply
    .header('content-type', asset.type)
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
  if (asset.type.startsWith('text/html')) void reply.header('content-security-policy', PAGE_CSP);
  if (status === 200 && request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.code(status).send(asset.body);
}

import { request } from 'node:http';

/** A status and the body, parsed as JSON when it is JSON. */
export interface RawAnswer {
  status: number;
  body: any;
}

/**
 * One request over a real socket with node:http rather than fetch: the headers are exactly these (fetch
 * sets Host and Origin itself), and an early answer (413 while the client still uploads) is read instead
 * of surfacing as EPIPE.
 */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers, setHost: !('host' in headers) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep the text for the failure message
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    // An early answer can close the socket mid-upload; the response still arrives.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the sink received. */
export interface RecordedRequest {
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: unknown;
  /** The exact bytes as text (what a signature covers). */
  rawBody: string;
  headers: IncomingHttpHeaders;
  method: string;
  url: string;
  /** Epoch ms of arrival. */
  at: number;
  /** Status the sink answered (undefined until it answered). */
  status?: number;
}

export interface ReplySinkOptions {
  /** Statuses for the next requests, in order; when used up the sink answers 200. */
  statuses?: number[];
  /**
   * Decides the status per request, ahead of `statuses` (return undefined to fall back to them). May return a
   * promise to hold the request open until the test lets it go.
   */
  respond?: (req: RecordedRequest) => number | undefined | Promise<number | undefined>;
}

export interface ReplySink {
  /** `http://127.0.0.1:<port>/replies` */
  url: string;
  requests: RecordedRequest[];
  /** Requests answered 2xx, in arrival order. */
  delivered(): RecordedRequest[];
  /** Resolves once at least `n` requests arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Replaces the queue of statuses still to be answered. */
  setStatuses(...statuses: number[]): void;
  close(): Promise<void>;
}

/**
 * A real loopback HTTP server that records every request and answers a programmable status sequence; the
 * stand-in for a webhook `replyUrl` or any receiver a test needs to watch.
 */
export async function startReplySink(options: ReplySinkOptions = {}): Promise<ReplySink> {
  let statuses = [...(options.statuses ?? [])];
  const requests: RecordedRequest[] = [];
  const waiters = new Set<() => void>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: unknown = rawBody;
        try {
          body = JSON.parse(rawBody);
        } catch {
          // keep the text
        }
        const rec: RecordedRequest = { body, rawBody, headers: req.headers, method: req.method ?? '', url: req.url ?? '', at: Date.now() };
        requests.push(rec);
        for (const w of waiters) w();
        let status: number | undefined;
        try {
          status = await options.respond?.(rec);
        } catch {
          status = 500;
        }
        status ??= statuses.shift() ?? 200;
        rec.status = status;
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status >= 200 && status < 300 ? '{"ok":true}' : '{"ok":false}');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/replies`,
    requests,
    delivered: () => requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300),
    waitFor(n, timeoutMs = 10_000) {
      if (requests.length >= n) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length < n) return;
          cleanup();
          resolve(requests);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`reply sink: ${requests.length} of ${n} requests after ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
    setStatuses(...next) {
      statuses = [...next];
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

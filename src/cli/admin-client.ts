/** Where and how the admin commands reach a gateway. */
export interface AdminConnection {
  /** Base URL of the gateway. @defaultValue http://127.0.0.1:8787 */
  url: string;
  /** `admin.token`; empty sends no Authorization header. */
  token: string;
  /** @defaultValue 10000 */
  timeoutMs?: number;
}

/** A failed admin call: the server's coded refusal, or no answer at all. */
export class AdminCallError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null,
    readonly issues: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'AdminCallError';
  }
}

/**
 * Calls one admin route and returns the parsed JSON answer; a 4xx/5xx answer throws the server's code and
 * reason, an unreachable gateway throws with the URL it tried.
 */
export async function callAdmin(conn: AdminConnection, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = conn.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (conn.token) headers['authorization'] = `Bearer ${conn.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(conn.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new AdminCallError(`cannot reach the gateway at ${base} (${why}): is it running? pass --url`, null, null);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string; issues?: Array<{ path: string; message: string }> } } | undefined)?.error;
    const reason = error?.message ?? (text.slice(0, 200) || res.statusText);
    throw new AdminCallError(`${res.status} ${error?.code ?? 'error'}: ${reason}`, res.status, error?.code ?? null, error?.issues ?? []);
  }
  if (json === undefined) throw new AdminCallError(`${base}${path} did not answer JSON: is --url a batchgate gateway?`, res.status, null);
  return json;
}

/** The path segment of a channel key: `webhook:room-1` → `webhook%3Aroom-1`. */
export function channelPath(key: string, suffix = ''): string {
  return `/api/v1/channels/${encodeURIComponent(key)}${suffix}`;
}

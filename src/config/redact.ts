import type { GatewayConfig } from './schema.js';

/** Config keys whose values are credentials. */
const SECRET_KEY = /(token|secret|apikey)$/i;
const HIDDEN = '***';

/** Hides the credentials of a URL (`redis://:pw@host` → `redis://***@host`) for logs and printed configs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, `//${HIDDEN}@`);
}

/** A copy of the config with tokens and secrets replaced by `***` (when set) and URL credentials hidden. */
export function hideSecrets(config: GatewayConfig): unknown {
  return hide(config, '');
}

function hide(value: unknown, key: string): unknown {
  // Header values (telemetry.otlp.headers) are credentials as a rule: an exporter's API key.
  if (key === 'headers' && value && typeof value === 'object') return Object.fromEntries(Object.keys(value).map((k) => [k, HIDDEN]));
  if (typeof value === 'string') return SECRET_KEY.test(key) && value !== '' ? HIDDEN : redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => hide(v, ''));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hide(v, k)]));
  return value;
}

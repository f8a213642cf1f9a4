import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { hideSecrets } from '../../../src/config/redact.js';
import { otlpTracesUrl } from '../../../src/telemetry/sdk.js';

describe('telemetry config', () => {
  it('is off by default', () => {
    expect(parseConfig({}, {}).telemetry).toEqual({ otlp: { endpoint: '', headers: {} }, serviceName: 'batchgate' });
  });

  it('refuses an endpoint that is not an http(s) URL, naming the key', () => {
    expect(() => parseConfig({ telemetry: { otlp: { endpoint: 'collector:4318' } } }, {})).toThrow(/telemetry\.otlp\.endpoint/);
  });

  it('hides the exporter headers’ values in printed configs', () => {
    const config = parseConfig({ telemetry: { otlp: { endpoint: 'http://127.0.0.1:4318', headers: { 'x-api-key': 'secret-key' } } } }, {});
    const shown = JSON.stringify(hideSecrets(config));
    expect(shown).not.toContain('secret-key');
    expect(shown).toContain('"x-api-key":"***"');
  });

  it('appends /v1/traces to a collector base URL, once', () => {
    expect(otlpTracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('https://otlp.example/v1/traces')).toBe('https://otlp.example/v1/traces');
  });
});

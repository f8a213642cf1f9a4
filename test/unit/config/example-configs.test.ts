import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';

describe('shipped config files', () => {
  for (const file of ['config/default.yaml', 'config/example.full.yaml']) {
    it(`${file} parses and validates`, async () => {
      const doc = parse(await readFile(file, 'utf8'));
      const cfg = parseConfig(doc, {});
      expect(cfg.http.port).toBe(8787);
      expect(cfg.processor.type).toBe('echo');
    });
  }

  it('example.full.yaml names every key the schema knows', async () => {
    const text = await readFile('config/example.full.yaml', 'utf8');
    const cfg = parseConfig({}, {});
    const keys = new Set<string>();
    const walk = (o: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(o)) {
        keys.add(k);
        if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>);
      }
    };
    walk(cfg as unknown as Record<string, unknown>);
    for (const k of ['windowMs', 'maxBatchSize', 'maxWaitMs', 'disabled', 'mode', 'maxQueuedBatches', 'overflow', 'processingTimeoutMs', 'typing']) keys.add(k);
    const missing = [...keys].filter((k) => !new RegExp(`\\b${k}:`).test(text));
    expect(missing).toEqual([]);
  });
});

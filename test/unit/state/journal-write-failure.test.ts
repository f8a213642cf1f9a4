import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';

const root = mkdtempSync(path.join(tmpdir(), 'bg-journal-fail-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a journal that cannot write, seen through the webhook', () => {
  it('answers 503 with retry-after (not 400 invalid) once a write failed, and keeps answering so', async () => {
    const config = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0 },
        adapters: { web: { enabled: false }, webhook: { enabled: true } },
        state: { spoolPath: path.join(root, 'spool.jsonl'), journal: { fsync: 'everysec' } },
      },
      {},
    );
    const gateway = createGateway({ config, logger: silentLogger(), processor: async () => {} });
    await gateway.start();
    try {
      const post = async (text: string) => {
        const res = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'room', userId: 'u', text }) });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
      };
      expect((await post('before')).status).toBe(202);
      // The log is swapped for a descriptor that refuses writes (EBADF), as a failing disk makes them fail.
      const journal = (gateway as unknown as { durable: { journal: { fd: number } } }).durable.journal;
      const logFd = journal.fd;
      closeSync(openSync(path.join(root, 'readonly'), 'w'));
      journal.fd = openSync(path.join(root, 'readonly'), 'r');
      onTestFinished(() => closeSync(logFd));
      for (const text of ['during', 'after']) {
        const r = await post(text);
        expect(r.status).toBe(503);
        expect(r.retryAfter).toBe('1');
        expect(JSON.stringify(r.body)).toMatch(/journal cannot write/);
      }
    } finally {
      await gateway.close().catch(() => {});
    }
  });
});

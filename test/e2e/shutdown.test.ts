import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startReplySink } from '../helpers/reply-sink.js';
import { spawnGateway } from '../helpers/spawn-gateway.js';

async function post(url: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.status;
}

function baseConfig(replyUrl: string, extra: Record<string, unknown> = {}) {
  return {
    http: { host: '127.0.0.1', port: 0 },
    adapters: { web: { enabled: false }, webhook: { enabled: true, replyUrl, replyBackoffMs: 20 } },
    ...extra,
  };
}

describe('graceful shutdown of a real gateway process', () => {
  it('SIGTERM with an open window: the batch flushes at once, its reply is delivered before exit, exit code 0', async () => {
    const sink = await startReplySink();
    onTestFinished(() => sink.close());
    const gw = await spawnGateway({ config: baseConfig(sink.url, { batching: { defaults: { windowMs: 60_000, maxWaitMs: 60_000 } } }) });
    expect(await post(gw.url, { channelId: 'room', userId: 'ana', userName: 'Ana', text: 'still typing' })).toBe(202);
    expect(await post(gw.url, { channelId: 'room', userId: 'ana', userName: 'Ana', text: 'and more' })).toBe(202);
    expect(sink.requests).toHaveLength(0); // the 60 s window is open

    expect(await gw.stop('SIGTERM')).toBe(0);
    expect(sink.delivered().map((r) => (r.body as { text: string }).text)).toEqual(['2 messages from Ana: still typing / and more']);
    const last = gw.jsonLogs().at(-1)!;
    expect(last).toMatchObject({ drained: 2, journaled: 0, lost: 0 });
    expect(String(last.msg)).toContain('2 drained, 0 journaled, 0 lost');
  });

  it('SIGTERM while a module processor ignores its signal: journaled after shutdownTimeoutMs, replayed at the next start', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bg-shutdown-'));
    const spoolPath = path.join(dir, 'spool.jsonl');
    const marker = path.join(dir, 'seen.jsonl');
    const bot = path.join(dir, 'bot.mjs');
    // First run: hangs forever and ignores ctx.signal. Second run (STUCK unset): records and replies.
    await writeFile(
      bot,
      `import { appendFileSync } from 'node:fs';\n` +
        `export default async function (batch, ctx) {\n` +
        `  appendFileSync(${JSON.stringify(marker)}, JSON.stringify({ pid: process.pid, texts: batch.messages.map((m) => m.text) }) + '\\n');\n` +
        // A pending timer keeps the event loop alive: the process must still exit after shutdownTimeoutMs.
        `  if (process.env.STUCK === '1') await new Promise((r) => setTimeout(r, 600_000));\n` +
        `  await ctx.reply('replayed: ' + batch.messages.map((m) => m.text).join(' + '));\n}\n`,
    );
    const sink = await startReplySink();
    onTestFinished(() => sink.close());
    const config = baseConfig(sink.url, {
      // 'one' + 'two' seal by size however slowly the POSTs go; 'three' stays open until the shutdown seals it.
      batching: { defaults: { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 2 } },
      processor: { type: 'module', path: bot },
      state: { spoolPath },
      shutdownTimeoutMs: 500,
    });

    const first = await spawnGateway({ config, env: { STUCK: '1' } });
    expect(await post(first.url, { channelId: 'room', userId: 'u', text: 'one' })).toBe(202);
    expect(await post(first.url, { channelId: 'room', userId: 'u', text: 'two' })).toBe(202);
    await expect.poll(async () => (await readFile(marker, 'utf8').catch(() => '')).length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await post(first.url, { channelId: 'room', userId: 'u', text: 'three' })).toBe(202); // waits behind the stuck batch
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.jsonLogs().at(-1)).toMatchObject({ journaled: 3, lost: 0 });
    expect(sink.requests).toHaveLength(0);

    const second = await spawnGateway({ config });
    await expect.poll(() => sink.delivered().length, { timeout: 15_000 }).toBe(2);
    expect(sink.delivered().map((r) => (r.body as { text: string }).text)).toEqual(['replayed: one + two', 'replayed: three']);
    expect(second.jsonLogs().some((l) => l.msg === 'recovered from the journal' && l.messages === 3 && l.batches === 2)).toBe(true);
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(second.jsonLogs().at(-1)).toMatchObject({ lost: 0, journaled: 0, replayed: 3 });
  });

  it('a config that fails validation stops start-up with every failing path and exit code 1', async () => {
    const gw = spawnGateway({ config: { http: { port: 'eighty' }, batching: { defaults: { windowMs: -1 } } } });
    await expect(gw).rejects.toThrow(/exited \(code 1/);
  });
});

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.js';

/**
 * kill -9 of a real gateway process (`node bin/batchgate.js start -c FILE`, as users start it) with the
 * embedded journal, then a restart on the same config. A module processor records every batch it
 * finished to a file, so "processed exactly once, in order" is read from what the bot saw.
 */

interface Done {
  pid: number;
  channelId: string;
  attempt: number;
  texts: string[];
}

async function workspace() {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-crash-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const doneFile = path.join(dir, 'done.jsonl');
  const bot = path.join(dir, 'bot.mjs');
  // BOT_DELAY_MS: each batch takes this long (so kills land mid-run). BOT_STUCK: never finishes.
  // BOT_CRASH: the process kills itself (SIGKILL) when its first batch starts.
  await writeFile(
    bot,
    `import { appendFileSync } from 'node:fs';\n` +
      `export default async function (batch, ctx) {\n` +
      `  if (process.env.BOT_CRASH === '1') process.kill(process.pid, 'SIGKILL');\n` +
      `  if (process.env.BOT_STUCK === '1') await new Promise(() => {});\n` +
      `  await new Promise((r) => setTimeout(r, Number(process.env.BOT_DELAY_MS ?? 0)));\n` +
      `  if (ctx.signal.aborted) return;\n` +
      `  appendFileSync(${JSON.stringify(doneFile)}, JSON.stringify({ pid: process.pid, channelId: batch.channelId, attempt: ctx.attempt, texts: batch.messages.map((m) => m.text) }) + '\\n');\n` +
      `}\n`,
  );
  const done = async (): Promise<Done[]> =>
    (await readFile(doneFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Done);
  const config = (fsync: string, batching: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
    http: { host: '127.0.0.1', port: 0 },
    adapters: { web: { enabled: false }, webhook: { enabled: true } },
    processor: { type: 'module', path: bot },
    batching: { maxConcurrentBatches: 32, defaults: { windowMs: 150, maxBatchSize: 4, maxWaitMs: 2_000, ...batching } },
    state: { spoolPath: path.join(dir, 'spool.jsonl'), journal: { path: path.join(dir, 'journal'), fsync } },
    shutdownTimeoutMs: 500,
    ...extra,
  });
  return { dir, done, config };
}

async function post(url: string, channelId: string, text: string): Promise<number> {
  const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId, userId: 'u', text }) });
  await res.arrayBuffer();
  return res.status;
}

async function kill9(gw: SpawnedGateway): Promise<void> {
  gw.signalGroup('SIGKILL');
  await gw.exited;
}

/** Per channel, the texts the bot finished, in the order it finished them. */
function byChannel(done: Done[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of done) out.set(d.channelId, [...(out.get(d.channelId) ?? []), ...d.texts]);
  return out;
}

/** An admin call on channel `key` (`action` after it, e.g. `/stop`), from loopback with no token (the default). */
const admin = (gw: SpawnedGateway, key: string, action = '', method = action === '' ? 'GET' : 'POST') =>
  fetch(`${gw.url}/api/v1/channels/${encodeURIComponent(key)}${action}`, { method }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

describe.each(['always', 'everysec'])('kill -9 with state.journal.fsync: %s', (fsync) => {
  it('mid-traffic over 20 channels: every message answered 202 is processed after the restart, in order per channel; only a batch in flight at the crash runs twice, with its attempt past 1', async () => {
    const ws = await workspace();
    const first = await spawnGateway({ config: ws.config(fsync), env: { BOT_DELAY_MS: '20' } });
    const accepted = new Map<string, string[]>();
    let answered = 0;
    let killed: Promise<void> | undefined;
    // 20 channels, each sending its messages one after another (so order per channel is the order sent),
    // until the gateway is killed after 150 answers: some batches open, some queued, some running.
    await Promise.all(
      Array.from({ length: 20 }, async (_, c) => {
        const channelId = `room-${c}`;
        for (let i = 0; i < 30; i++) {
          const text = `${channelId}#${i}`;
          const status = await post(first.url, channelId, text).catch(() => 0);
          if (status !== 202) return;
          accepted.set(channelId, [...(accepted.get(channelId) ?? []), text]);
          if (++answered === 150) killed = kill9(first);
        }
      }),
    );
    await killed;
    const total = [...accepted.values()].reduce((n, t) => n + t.length, 0);
    expect(total).toBeGreaterThanOrEqual(150);

    const second = await spawnGateway({ config: ws.config(fsync) });
    await expect.poll(async () => (await ws.done()).reduce((n, d) => n + d.texts.length, 0), { timeout: 30_000 }).toBeGreaterThanOrEqual(total);
    // A message whose POST was in flight at the kill may have been taken without its 202 reaching the
    // client: it may run too (at most once), right after the channel's acknowledged ones. A batch the bot
    // finished just before the kill, whose end the journal had not yet recorded, was in flight at the
    // crash: it runs again, and says so with its attempt (the bot's way to recognise the repeat).
    const records = await ws.done();
    const reruns = records.filter((d, i) => records.slice(0, i).some((e) => e.channelId === d.channelId && e.texts.join() === d.texts.join()));
    for (const r of reruns) expect(r.attempt, `${r.channelId} ${r.texts.join()}`).toBeGreaterThan(1);
    expect(reruns.length).toBeLessThanOrEqual(accepted.size); // at most the one batch in flight per channel
    const seen = byChannel(records.filter((d) => !reruns.includes(d)));
    for (const [channelId, texts] of accepted) {
      const got = seen.get(channelId) ?? [];
      expect(got.slice(0, texts.length)).toEqual(texts);
      expect(got.slice(texts.length)).toEqual(got.length > texts.length ? [`${channelId}#${texts.length}`] : []);
    }
    expect(await second.stop('SIGTERM')).toBe(0);
  });

  it('200 messages over 20 channels answered 202, kill -9, restart: all 200 processed; a batch in flight at the crash runs again with attempt 2', async () => {
    const ws = await workspace();
    // channel room-0 is busy with a batch that never finishes in the first process; the others wait in long windows.
    const first = await spawnGateway({ config: ws.config(fsync, { windowMs: 60_000, maxWaitMs: 60_000, maxBatchSize: 10 }), env: { BOT_STUCK: '1' } });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async (_, c) => {
        const out: number[] = [];
        for (let i = 0; i < 10; i++) out.push(await post(first.url, `room-${c}`, `room-${c}#${i}`));
        return out;
      }),
    );
    expect(statuses.flat().filter((s) => s === 202)).toHaveLength(200);
    // maxBatchSize 10: every channel's batch sealed by size and went in flight (stuck).
    await expect.poll(async () => (await admin(first, 'webhook:room-0')).body['processing'], { timeout: 10_000 }).toBe(true);
    await kill9(first);

    const second = await spawnGateway({ config: ws.config(fsync, { windowMs: 60_000, maxWaitMs: 60_000, maxBatchSize: 10 }) });
    await expect.poll(async () => (await ws.done()).reduce((n, d) => n + d.texts.length, 0), { timeout: 30_000 }).toBe(200);
    const done = await ws.done();
    expect(done.find((d) => d.channelId === 'room-0')).toMatchObject({ attempt: 2, texts: Array.from({ length: 10 }, (_, i) => `room-0#${i}`) });
    expect([...byChannel(done).values()].flat()).toHaveLength(200);
    expect(await second.stop('SIGTERM')).toBe(0);
  });
});

describe('kill -9 and operator state (fsync: everysec, the default)', () => {
  it('a stopped channel stays paused: its 3 messages run only after resume', async () => {
    const ws = await workspace();
    const first = await spawnGateway({ config: ws.config('everysec') });
    expect(await post(first.url, 'room', 'before')).toBe(202);
    await expect.poll(async () => (await ws.done()).length, { timeout: 10_000 }).toBe(1);
    expect((await admin(first, 'webhook:room', '/stop')).body).toMatchObject({ paused: true });
    for (const t of ['a', 'b', 'c']) expect(await post(first.url, 'room', t)).toBe(202);
    await kill9(first);

    const second = await spawnGateway({ config: ws.config('everysec') });
    const stats = (await admin(second, 'webhook:room')).body;
    expect(stats).toMatchObject({ paused: true, processing: false });
    expect(Number(stats['pending']) + Number(stats['queuedMessages'])).toBe(3);
    expect((await ws.done()).map((d) => d.texts)).toEqual([['before']]);
    expect((await admin(second, 'webhook:room', '/resume')).body).toMatchObject({ paused: false });
    await expect.poll(async () => (await ws.done()).flatMap((d) => d.texts), { timeout: 10_000 }).toEqual(['before', 'a', 'b', 'c']);
  });

  it('journaled at shutdown, replayed, cleared by an operator, kill -9, restart: the cleared messages never run', async () => {
    const ws = await workspace();
    const config = ws.config('everysec', { windowMs: 50 });
    // First process: "one" runs and hangs; "two" and "three" queue behind it; SIGTERM keeps all three.
    const first = await spawnGateway({ config, env: { BOT_STUCK: '1' } });
    expect(await post(first.url, 'room', 'one')).toBe(202);
    await expect.poll(async () => (await admin(first, 'webhook:room')).body['processing'], { timeout: 10_000 }).toBe(true);
    expect(await post(first.url, 'room', 'two')).toBe(202);
    expect(await post(first.url, 'room', 'three')).toBe(202);
    await expect.poll(async () => (await admin(first, 'webhook:room')).body['queuedMessages'], { timeout: 10_000 }).toBe(2);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.jsonLogs().at(-1)).toMatchObject({ journaled: 3, lost: 0 });

    // Second process: replays them ("one" hangs again), the operator clears the queue, then kill -9.
    const second = await spawnGateway({ config, env: { BOT_STUCK: '1' } });
    await expect.poll(async () => (await admin(second, 'webhook:room')).body['processing'], { timeout: 10_000 }).toBe(true);
    expect((await admin(second, 'webhook:room', '/queue', 'DELETE')).body).toEqual({ removed: 2 });
    await kill9(second);

    // Third process: "one" (in flight at both ends) runs; "two" and "three" never do. "four" proves the channel moved on.
    const third = await spawnGateway({ config });
    expect(await post(third.url, 'room', 'four')).toBe(202);
    await expect.poll(async () => (await ws.done()).flatMap((d) => d.texts), { timeout: 10_000 }).toContain('four');
    const done = await ws.done();
    expect(done.flatMap((d) => d.texts)).toEqual(['one', 'four']);
    expect(done[0]).toMatchObject({ attempt: 3 });
  });

  it('a crash during recovery itself loses nothing: the next start still has every message', async () => {
    const ws = await workspace();
    const config = ws.config('everysec', { windowMs: 60_000, maxWaitMs: 60_000, maxBatchSize: 5 });
    const first = await spawnGateway({ config, env: { BOT_STUCK: '1' } });
    for (let c = 0; c < 3; c++) for (let i = 0; i < 7; i++) expect(await post(first.url, `room-${c}`, `room-${c}#${i}`)).toBe(202);
    await kill9(first);

    // Second process: recovers, then dies by SIGKILL the moment its first recovered batch starts.
    const second = await spawnGateway({ config, env: { BOT_CRASH: '1' } }).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    if (!(second instanceof Error)) await second.exited;

    const third = await spawnGateway({ config });
    // The 5-message batches run now; the 2-message remainders wait in their 60 s windows until shutdown flushes them.
    await expect.poll(async () => (await ws.done()).reduce((n, d) => n + d.texts.length, 0), { timeout: 30_000 }).toBeGreaterThanOrEqual(15);
    expect(await third.stop('SIGTERM')).toBe(0); // shutdown flushes the open windows
    const seen = byChannel(await ws.done());
    for (let c = 0; c < 3; c++) expect(seen.get(`room-${c}`)).toEqual(Array.from({ length: 7 }, (_, i) => `room-${c}#${i}`));
  });

  it('a second gateway on the same journal directory is refused at start, naming the owner', async () => {
    const ws = await workspace();
    const first = await spawnGateway({ config: ws.config('everysec') });
    await expect(spawnGateway({ config: ws.config('everysec') })).rejects.toThrow(new RegExp(`in use by process ${first.proc.pid}`));
    expect(await post(first.url, 'room', 'still mine')).toBe(202);
  });
});

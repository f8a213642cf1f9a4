import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ErrorCode, ProcessorLoadError } from '../../../src/errors.js';
import { createGateway, type GatewayOptions } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { Processor } from '../../../src/processors/processor.js';
import { RecordingAdapter } from '../../helpers/recording-adapter.js';

async function tmp(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'bg-gw-'));
}

async function startGateway(overrides: Partial<GatewayOptions> = {}, doc: Record<string, unknown> = {}) {
  const dir = await tmp();
  const adapter = new RecordingAdapter();
  const gateway = createGateway({
    config: parseConfig({ http: { port: 0 }, batching: { defaults: { windowMs: 100 } }, state: { spoolPath: path.join(dir, 'spool.jsonl') }, ...doc }, {}),
    logger: silentLogger(),
    adapters: [adapter],
    baseDir: dir,
    ...overrides,
  });
  onTestFinished(() => gateway.close().then(() => undefined));
  await gateway.start();
  return { gateway, adapter, dir };
}

/**
 * `test:room` batches `size` messages under a window no loaded machine outlasts, so a burst is one batch
 * however slowly it is accepted; other channels keep the 100 ms window.
 */
const roomSealsAt = (size: number) => ({ batching: { defaults: { windowMs: 100 }, channels: [{ match: 'test:room', windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: size }] } });

describe('gateway wiring', () => {
  it('adapter → queue → echo processor → bus replies → the adapter of that platform, in order', async () => {
    const { adapter } = await startGateway({}, roomSealsAt(3));
    for (const t of ['hey', 'quick question', 'the deploy failed']) expect((await adapter.accept('room', t)).accepted).toBe(true);
    await adapter.accept('other', 'hello');
    await adapter.until(() => adapter.sent.length === 2);
    const room = adapter.sent.find((r) => r.channelId === 'room')!;
    expect(room.text).toBe('3 messages from Ana: hey / quick question / the deploy failed');
    expect(room.inReplyTo).toHaveLength(3);
    await adapter.until(() => adapter.events.filter((e) => e.type === 'batch.completed').length === 2);
    expect(adapter.events.filter((e) => e.channelKey === 'test:room').map((e) => e.type)).toEqual([
      'message.appended',
      'message.appended',
      'message.appended',
      'batch.flushed',
      'batch.started',
      'batch.completed',
    ]);
  });

  it('bad input through accept is refused with a reason and never disturbs other messages', async () => {
    const { adapter } = await startGateway();
    const bad = await adapter.ctx!.accept({ id: '', platform: 'test', channelId: '', userId: 'u', userName: 'x', text: 'x' });
    expect(bad).toMatchObject({ accepted: false, reason: ErrorCode.InvalidMessage });
    await adapter.accept('room', 'fine');
    await adapter.until(() => adapter.sent.length === 1);
  });

  it('a reply attempted after the batch was cancelled is dropped, counted, and never reaches the adapter', async () => {
    let release!: () => void;
    const processor: Processor = async (_batch, ctx) => {
      await new Promise<void>((r) => (release = r));
      await ctx.reply('stale');
    };
    const { gateway, adapter } = await startGateway({ processor });
    await adapter.accept('room', 'slow');
    await adapter.until(() => adapter.events.some((e) => e.type === 'batch.started'));
    expect(await gateway.queue.cancelCurrent('test:room')).toBe(true);
    release();
    await adapter.until(() => gateway.queue.totals().repliesDropped === 1);
    expect(adapter.sent).toEqual([]);
    expect((await gateway.queue.stats('test:room'))?.counters.cancelled).toBe(1);
  });

  it('loads a module processor from a user file by path (TypeScript too)', async () => {
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'bot.ts'),
      `import type { Processor } from '${path.resolve('src/processors/processor.ts')}';\n` +
        `const bot: Processor = async (batch, ctx) => { await ctx.reply('bot saw ' + batch.size + ': ' + batch.text()); };\nexport default bot;\n`,
    );
    const { adapter } = await startGateway({ baseDir: dir }, { processor: { type: 'module', path: './bot.ts' }, ...roomSealsAt(2) });
    await adapter.accept('room', 'a');
    await adapter.accept('room', 'b');
    await adapter.until(() => adapter.sent.length === 1);
    expect(adapter.sent[0]!.text).toBe('bot saw 2: a\nb');
  });

  it('a module without a default export stops start-up with an error naming the file', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'nodefault.mjs');
    await writeFile(file, 'export const notIt = 1;\n');
    const gateway = createGateway({ config: parseConfig({ http: { port: 0 }, processor: { type: 'module', path: file } }, {}), logger: silentLogger(), adapters: [new RecordingAdapter()] });
    const err = await gateway.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessorLoadError);
    expect((err as ProcessorLoadError).code).toBe(ErrorCode.ProcessorLoad);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/no default export/);
    const missing = createGateway({ config: parseConfig({ http: { port: 0 }, processor: { type: 'module', path: path.join(dir, 'nope.js') } }, {}), logger: silentLogger(), adapters: [] });
    await expect(missing.start()).rejects.toThrow(/nope\.js.*not found/);
  });

  it('shutdown flushes an open window, delivers its reply, and reports 0 lost', async () => {
    const { gateway, adapter } = await startGateway({}, { batching: { defaults: { windowMs: 60_000, maxWaitMs: 60_000 } } });
    await adapter.accept('room', 'still open');
    const report = await gateway.close();
    expect(report).toMatchObject({ drained: 1, journaled: 0, lost: 0 });
    expect(adapter.sent.map((r) => r.text)).toEqual(['1 message from Ana: still open']);
    expect(adapter.closed).toBe(1);
    expect(await gateway.close()).toBe(report); // idempotent
  });

  it('a processor that ignores its signal is aborted after shutdownTimeoutMs; its batch is journaled and replayed next start', async () => {
    const seen: string[][] = [];
    const stuck: Processor = async (batch) => {
      seen.push(batch.messages.map((m) => m.text));
      await new Promise(() => {}); // never settles, ignores the signal
    };
    const first = await startGateway({ processor: stuck }, { shutdownTimeoutMs: 200, ...roomSealsAt(2) });
    await first.adapter.accept('room', 'one');
    await first.adapter.accept('room', 'two');
    await first.adapter.until(() => seen.length === 1);
    const report = await first.gateway.close();
    expect(report).toMatchObject({ journaled: 2, lost: 0 });
    const files = await readdir(path.join(first.dir, 'journal'));
    const snapshot = files.find((f) => f.startsWith('snapshot.'))!;
    expect(await readFile(path.join(first.dir, 'journal', snapshot), 'utf8')).toMatch(/"text":"one".*"text":"two"/);

    const adapter = new RecordingAdapter();
    const second = createGateway({
      config: first.gateway.config,
      logger: silentLogger(),
      adapters: [adapter],
      baseDir: first.dir,
    });
    onTestFinished(() => second.close().then(() => undefined));
    await second.start();
    await adapter.until(() => adapter.sent.length === 1);
    expect(adapter.sent[0]!.text).toBe('2 messages from Ana: one / two');
    expect((await second.close()).replayed).toBe(2);
  });

  it('a spool file left by an older version is taken into the journal once: a crash during its replay loses nothing', async () => {
    const dir = await tmp();
    const spoolPath = path.join(dir, 'spool.jsonl');
    const batch = { v: 1, id: '0000spooled00001abcd', channelKey: 'test:room', firstAt: 1, lastAt: 2, flushReason: 'shutdown', messages: [{ id: 'a1', platform: 'test', channelId: 'room', userId: 'u', userName: 'Ana', text: 'spooled', queuedAt: 1, extra: {} }] };
    await writeFile(spoolPath, JSON.stringify(batch) + '\n');
    const config = parseConfig({ http: { port: 0 }, state: { spoolPath, journal: { path: path.join(dir, 'journal') } } }, {});

    // First process: the processor hangs, and the process "crashes" (is never closed).
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const crashed = createGateway({ config, logger: silentLogger(), adapters: [new RecordingAdapter()], processor: () => hung });
    onTestFinished(async () => {
      release();
      await crashed.close();
    });
    await crashed.start();
    // The spool is gone as soon as the journal holds its batch.
    await expect(readFile(spoolPath, 'utf8')).rejects.toThrow(/ENOENT/);

    // Next start: the batch comes back from the journal and runs.
    const adapter = new RecordingAdapter();
    const next = createGateway({ config, logger: silentLogger(), adapters: [adapter] });
    onTestFinished(() => next.close().then(() => undefined));
    await next.start();
    await adapter.until(() => adapter.sent.length === 1);
    expect(adapter.sent[0]!.text).toBe('1 message from Ana: spooled');
    expect(adapter.sent).toHaveLength(1);
  });
});


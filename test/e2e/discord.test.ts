import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { fenceStateAfter } from '../../adapters/discord/split-message.js';
import { parseConfig } from '../../src/config/load.js';
import { AdapterError } from '../../src/errors.js';
import type { QueueEvent } from '../../src/core/events.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import type { Processor } from '../../src/processors/processor.js';
import { ChannelKind, startFakeDiscord, type FakeDiscord, type PostedMessage } from '../fakes/discord/index.js';
import { messagePayload } from '../fakes/discord/payloads.js';
import { heldProcessor } from '../helpers/held-processor.js';
import { REPO_ROOT } from '../helpers/spawn-gateway.js';

/**
 * Discord end to end: the real gateway (config → DiscordAdapter → MessageQueue → processor → bus
 * `replies` → adapter.send) with the real discord.js 14 client against the wire-format fake on loopback.
 * Everything is asserted where a Discord user would see it: the fake's REST log (posts, typing calls) and
 * its gateway sockets; the queue's own stats and events show what never became a batch.
 */

const WINDOW_MS = 300;

type LogRecord = Record<string, unknown> & { msg: string; level: number };

interface Running {
  fake: FakeDiscord;
  gateway: Gateway;
  /** Every queue event since start, in order. */
  events: QueueEvent[];
  /** Every log line the gateway wrote (info and up), parsed. */
  logs: LogRecord[];
  /** `batch.flushed` events as `[channelId, size]`. */
  flushed(): Array<[string, number]>;
  /** The channel's queue counters (zeros for a channel the queue never saw). */
  counters(channelId: string): Promise<{ received: number; batches: number }>;
}

function gatewayConfig(fake: FakeDiscord, token = fake.token, batchingDefaults: Record<string, unknown> = {}) {
  return parseConfig(
    {
      http: { port: 0 },
      batching: { defaults: { windowMs: WINDOW_MS, ...batchingDefaults } },
      adapters: { web: { enabled: false }, webhook: { enabled: false }, discord: { enabled: true, token, apiUrl: fake.apiUrl } },
    },
    {},
  );
}

/** A fake Discord and a gateway built from config against it; teardown closes the gateway, then the fake. */
async function startGateway(options: { processor?: Processor; token?: string; start?: boolean; batchingDefaults?: Record<string, unknown> } = {}): Promise<Running> {
  const fake = await startFakeDiscord();
  const logs: LogRecord[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) });
  const gateway = createGateway({ config: gatewayConfig(fake, options.token, options.batchingDefaults), logger, processor: options.processor });
  onTestFinished(async () => {
    // discord.js must be destroyed before its server goes away, or it starts reconnecting.
    await gateway.close();
    await fake.close();
  });
  const events: QueueEvent[] = [];
  const running: Running = {
    fake,
    gateway,
    events,
    logs,
    flushed: () => events.flatMap((e) => (e.type === 'batch.flushed' ? [[e.channelKey.slice('discord:'.length), e.size] as [string, number]] : [])),
    counters: async (channelId) => {
      const stats = await gateway.queue.stats(`discord:${channelId}`);
      return { received: stats?.counters.received ?? 0, batches: stats?.counters.batches ?? 0 };
    },
  };
  if (options.start !== false) {
    await gateway.start();
    gateway.queue.on((e) => events.push(e));
  }
  return running;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Batching under a window no loaded machine outlasts: a burst stays one batch however slowly the gateway
 * gets to its messages, until {@link closeWindow} closes it.
 */
const LONG_WINDOW = { windowMs: 60_000, maxWaitMs: 120_000 };

/**
 * Closes the channel's open window now: a short override re-times it (it still closes as a window), and
 * goes once the batch sealed, so the channel's next burst batches under the long window again.
 */
async function closeWindow(running: Running, channelId: string): Promise<void> {
  const key = `discord:${channelId}`;
  const flushed = () => running.events.filter((e) => e.type === 'batch.flushed' && e.channelKey === key).length;
  const before = flushed();
  await running.gateway.queue.setSettings(key, { windowMs: 20 });
  await running.fake.waitFor(() => flushed() === before + 1, `the window of ${channelId} to close`);
  await running.gateway.queue.deleteSettings(key);
}

/** Resolves once the channel's open batch holds `n` messages. */
async function pending(running: Running, channelId: string, n: number): Promise<void> {
  await expect.poll(async () => (await running.gateway.queue.stats(`discord:${channelId}`))?.pending ?? 0, { timeout: 10_000, interval: 20 }).toBe(n);
}

/** A 3,000-character answer with a code block that has to be cut between two posts. */
function longAnswer(): string {
  const code = Array.from({ length: 70 }, (_, i) => `  result.push(compute(${i}, "${'v'.repeat(12)}"));`);
  return ['Here is the fix:', '```js', 'function run() {', ...code, '}', '```', 'That should do it.'].join('\n');
}

/** Posts' contents once the fake has at least `n` of them. */
async function posts(fake: FakeDiscord, n: number, timeoutMs = 10_000): Promise<string[]> {
  await fake.waitFor(() => fake.postedMessages.length >= n, `${n} posts`, timeoutMs);
  return fake.postedMessages.map((p) => p.content);
}

describe('Discord through the real gateway, discord.js and the fake', () => {
  it('three messages within the window → one POST with the combined reply, typing shown while collecting', async () => {
    const running = await startGateway({ batchingDefaults: LONG_WINDOW });
    const { fake, flushed, counters } = running;
    for (const text of ['a', 'b', 'c']) fake.sendUserMessage({ channelId: fake.channelId, content: text });
    await pending(running, fake.channelId, 3);
    await closeWindow(running, fake.channelId);

    expect(await posts(fake, 1)).toEqual(['3 messages from Alice: a / b / c']);
    const [post] = fake.postedMessages;
    expect(post?.channelId).toBe(fake.channelId);
    expect(fake.postAttempts).toHaveLength(1);
    expect(flushed()).toEqual([[fake.channelId, 3]]);
    // The indicator went up while the batch was still collecting, before the answer was posted.
    const typing = fake.typingCalls.filter((t) => t.channelId === fake.channelId);
    expect(typing.length).toBeGreaterThanOrEqual(1);
    expect(typing[0]!.at).toBeLessThanOrEqual(post!.at);
    // The bot's own echoed post did not start a batch: gateway events arrive in order on one socket, so a
    // sentinel sent now is handled after the echo, and its reply is the only other post.
    fake.sendUserMessage({ channelId: fake.channelId, content: 'sentinel' });
    await pending(running, fake.channelId, 1);
    await closeWindow(running, fake.channelId);
    expect(await posts(fake, 2)).toEqual(['3 messages from Alice: a / b / c', '1 message from Alice: sentinel']);
    expect(fake.postAttempts).toHaveLength(2);
    expect(await counters(fake.channelId)).toEqual({ received: 4, batches: 2 });
  });

  it('an edit before the flush gives the batch the edited text; deletes (one, and in bulk) leave the batch without them', async () => {
    const running = await startGateway({ batchingDefaults: LONG_WINDOW });
    const { fake } = running;
    const typo = fake.sendUserMessage({ channelId: fake.channelId, content: 'deploy to prdo' });
    const regret = fake.sendUserMessage({ channelId: fake.channelId, content: 'never mind this' });
    const bulkA = fake.sendUserMessage({ channelId: fake.channelId, content: 'spam one' });
    const bulkB = fake.sendUserMessage({ channelId: fake.channelId, content: 'spam two' });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'thanks' });
    await pending(running, fake.channelId, 5);
    fake.editUserMessage(typo, 'deploy to prod');
    fake.deleteUserMessages(fake.channelId, [regret]);
    fake.deleteUserMessages(fake.channelId, [bulkA, bulkB]);
    await pending(running, fake.channelId, 2);
    await expect.poll(() => running.events.filter((e) => e.type === 'message.edited').length, { timeout: 10_000, interval: 20 }).toBe(1);
    await closeWindow(running, fake.channelId);
    expect(await posts(fake, 1)).toEqual(['2 messages from Alice: deploy to prod / thanks']);
    expect(running.events.flatMap((e) => (e.type === 'message.edited' || e.type === 'message.deleted' ? [[e.type, e.messageId, e.applied]] : []))).toEqual([
      ['message.edited', typo, 'pending'],
      ['message.deleted', regret, 'pending'],
      ['message.deleted', bulkA, 'pending'],
      ['message.deleted', bulkB, 'pending'],
    ]);
  });

  it('interrupt mode: an edit of the message in flight re-runs the batch with the new text', async () => {
    const held = heldProcessor();
    const running = await startGateway({ processor: held.processor, batchingDefaults: { ...LONG_WINDOW, mode: 'interrupt' } });
    onTestFinished(() => held.release());
    const { fake } = running;
    const id = fake.sendUserMessage({ channelId: fake.channelId, content: 'check prod' });
    await pending(running, fake.channelId, 1);
    await closeWindow(running, fake.channelId);
    await fake.waitFor(() => held.started.length === 1, 'the first run');
    fake.editUserMessage(id, 'check staging');
    await fake.waitFor(() => held.started.length === 2, 'the re-run');
    expect(held.started).toEqual(['check prod', 'check staging']);
    expect(running.events.some((e) => e.type === 'batch.cancelled' && e.reason === 'edit')).toBe(true);
    held.release();
    expect(await posts(fake, 1)).toEqual(['done: check staging']);
  });

  it("the bot's own echoed post and another bot's message never start a batch", async () => {
    const { fake, flushed, counters } = await startGateway();
    fake.sendUserMessage({ channelId: fake.channelId, content: 'hello bot' });
    expect(await posts(fake, 1)).toEqual(['1 message from Alice: hello bot']);

    fake.sendBotMessage({ channelId: fake.channelId, content: 'I am another bot' });
    fake.sendBotMessage({ channelId: fake.otherChannelId, content: '1 message from Alice: hello bot' });
    // Gateway events arrive in order on one socket: once this sentinel is answered, discord.js has already
    // handled the echo of our own post and both bot messages.
    fake.sendUserMessage({ channelId: fake.threadId, content: 'sentinel' });
    expect(await posts(fake, 2)).toEqual(['1 message from Alice: hello bot', '1 message from Alice: sentinel']);
    expect(fake.postAttempts).toHaveLength(2);
    expect(flushed()).toEqual([
      [fake.channelId, 1],
      [fake.threadId, 1],
    ]);
    expect(await counters(fake.channelId)).toEqual({ received: 1, batches: 1 });
    expect(await counters(fake.otherChannelId)).toEqual({ received: 0, batches: 0 });
  });

  it('a 3,000-character reply arrives as two posts in order with code fences intact', async () => {
    const text = longAnswer();
    expect(text.length).toBeGreaterThan(3_000);
    const { fake, gateway } = await startGateway({ processor: async (_batch, ctx) => void (await ctx.reply(text)) });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'how do I fix run()?' });

    const [first, second] = await posts(fake, 2);
    // The reply counts as sent once every piece is posted: then the posts are final.
    await expect.poll(() => gateway.replyStats(), { timeout: 10_000 }).toEqual({ discord: { sent: 1, failed: 0 } });
    expect(fake.postedMessages.map((p) => p.channelId)).toEqual([fake.channelId, fake.channelId]);
    expect(fake.postAttempts.map((a) => a.status)).toEqual([200, 200]);
    expect(first!.length).toBeLessThanOrEqual(2_000);
    expect(first!.startsWith('Here is the fix:\n```js\nfunction run() {')).toBe(true);
    expect(first!.endsWith('\n```')).toBe(true);
    expect(second!.startsWith('```js\n')).toBe(true);
    expect(second!.endsWith('}\n```\nThat should do it.')).toBe(true);
    // Each post renders on its own: every code block it opens, it closes.
    expect(fenceStateAfter(first!)).toBeNull();
    expect(fenceStateAfter(second!)).toBeNull();
    // Nothing lost or reordered: without the fence lines the split added, the lines are the answer's.
    const fenceLine = (l: string): boolean => l === '```' || l === '```js';
    expect(`${first}\n${second}`.split('\n').filter((l) => !fenceLine(l))).toEqual(text.split('\n').filter((l) => !fenceLine(l)));
  });

  it('a thread and a DM each batch separately from their parent channel', async () => {
    const running = await startGateway({ batchingDefaults: LONG_WINDOW });
    const { fake, flushed } = running;
    const { channelId, threadId, dmChannelId } = fake;
    for (const [where, text] of [
      [channelId, 'p1'],
      [threadId, 't1'],
      [dmChannelId, 'd1'],
      [channelId, 'p2'],
      [threadId, 't2'],
      [dmChannelId, 'd2'],
    ] as const) {
      fake.sendUserMessage({ channelId: where, content: text });
    }

    for (const where of [channelId, threadId, dmChannelId]) await pending(running, where, 2);
    for (const where of [channelId, threadId, dmChannelId]) await closeWindow(running, where);
    await posts(fake, 3);
    const byChannel = Object.fromEntries(fake.postedMessages.map((p) => [p.channelId, p.content]));
    expect(fake.postedMessages).toHaveLength(3);
    expect(byChannel).toEqual({
      [channelId]: '2 messages from Alice: p1 / p2',
      [threadId]: '2 messages from Alice: t1 / t2',
      [dmChannelId]: '2 messages from Alice: d1 / d2',
    });
    expect(flushed().sort()).toEqual(
      [
        [channelId, 2],
        [threadId, 2],
        [dmChannelId, 2],
      ].sort(),
    );
  });
});

describe('Discord resilience through the real gateway', () => {
  it('the fake drops the WebSocket mid-session: the client resumes, and later messages still batch and reply', async () => {
    const running = await startGateway({ batchingDefaults: LONG_WINDOW });
    const { fake, flushed, logs } = running;
    fake.sendUserMessage({ channelId: fake.channelId, content: 'before' });
    await pending(running, fake.channelId, 1);
    await closeWindow(running, fake.channelId);
    expect(await posts(fake, 1)).toEqual(['1 message from Alice: before']);

    fake.dropConnection();
    await fake.waitFor(() => fake.resumes >= 1 && fake.openConnections === 1, 'a RESUME on a new socket', 20_000);
    await fake.waitFor(() => logs.some((l) => l.msg === 'discord gateway resumed'), 'the adapter to log the resume');
    for (const text of ['x', 'y', 'z']) fake.sendUserMessage({ channelId: fake.channelId, content: text });
    await pending(running, fake.channelId, 3);
    await closeWindow(running, fake.channelId);

    expect(await posts(fake, 2, 15_000)).toEqual(['1 message from Alice: before', '3 messages from Alice: x / y / z']);
    expect(fake.postAttempts).toHaveLength(2);
    expect(flushed()).toEqual([
      [fake.channelId, 1],
      [fake.channelId, 3],
    ]);
    // Resumed, not re-identified: the session (and its place in the event stream) survived the drop.
    expect(fake.identifies).toBe(1);
    expect(fake.closeCodes).toEqual([1006]);
  });

  it('a 429 with Retry-After on the reply: delivered after the wait, order kept', async () => {
    const { fake, gateway, logs } = await startGateway();
    fake.failNextPost(429, 1);
    fake.sendUserMessage({ channelId: fake.channelId, content: 'first' });
    await fake.waitFor(() => fake.postAttempts[0]?.status === 429, 'the rate-limited first post');
    // A second batch whose reply is ready while the first still waits out the limit: it must not overtake.
    fake.sendUserMessage({ channelId: fake.channelId, content: 'second' });

    expect(await posts(fake, 2, 15_000)).toEqual(['1 message from Alice: first', '1 message from Alice: second']);
    expect(fake.postAttempts.map((a) => [a.status, a.content])).toEqual([
      [429, '1 message from Alice: first'],
      [200, '1 message from Alice: first'],
      [200, '1 message from Alice: second'],
    ]);
    // discord.js honoured Retry-After (1 s) before trying again; a lower bound only, the machine is shared.
    expect(fake.postAttempts[1]!.at - fake.postAttempts[0]!.at).toBeGreaterThanOrEqual(900);
    // Counted once send() resolved, a moment after the fake recorded the post.
    await expect.poll(() => gateway.replyStats(), { timeout: 5_000 }).toEqual({ discord: { sent: 2, failed: 0 } });
    expect(logs.some((l) => l.msg === 'discord rate limit; discord.js waits and retries')).toBe(true);
  });

  it('a bad token: start() rejects with an AdapterError naming discord, and nothing stays connected', async () => {
    const { fake, gateway } = await startGateway({ token: 'definitely-not-the-token', start: false });
    const err = await gateway.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err).toMatchObject({ code: 'BG_ERR_ADAPTER', platform: 'discord' });
    expect((err as Error).message).toMatch(/^discord adapter: the bot token was rejected \(401 Unauthorized from GET \/gateway\/bot\)\. Check adapters\.discord\.token/);
    expect(fake.requests).toContainEqual({ method: 'GET', path: '/api/v10/gateway/bot', status: 401 });
    expect(gateway.isShuttingDown).toBe(true);
    await sleep(500);
    expect(fake.connections).toBe(0);
  });

  it('a bad token on `batchgate start`: the process exits non-zero by itself with the reason on stderr', { timeout: 45_000 }, async () => {
    const fake = await startFakeDiscord();
    const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-discord-e2e-'));
    onTestFinished(async () => {
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    });
    const configPath = path.join(dir, 'batchgate.yaml');
    await writeFile(
      configPath,
      stringify({
        http: { host: '127.0.0.1', port: 0 },
        adapters: { web: { enabled: false }, webhook: { enabled: false }, discord: { enabled: true, token: 'wrong-token', apiUrl: fake.apiUrl } },
        state: { spoolPath: path.join(dir, 'spool.jsonl') },
      }),
    );

    const proc = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/batchgate.js'), 'start', '--config', configPath], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    onTestFinished(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    });
    // Generous: loading the gateway and its libraries takes seconds on a busy machine. A hang (something left
    // running after the failed start) shows up as the timeout.
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
    expect(code, `the process did not exit on its own; stdout:\n${stdout}\nstderr:\n${stderr}`).not.toBe('timeout');
    expect(code).toBe(1);
    expect(stderr).toContain('batchgate: start-up failed: BG_ERR_ADAPTER: discord adapter: the bot token was rejected (401 Unauthorized from GET /gateway/bot)');
    expect(stderr).toContain('Check adapters.discord.token (DISCORD_TOKEN)');
    expect(stdout).not.toContain('health');
    expect(fake.connections).toBe(0);
  });
});

/** One batch per message, one waiting batch at most, the next refused: `overflow: reject` at its smallest. */
const REJECT_WHEN_ONE_WAITS = { maxBatchSize: 1, maxQueuedBatches: 1, overflow: 'reject' };

/**
 * A gateway whose channels refuse a message once one batch runs and one waits; `fill()` sends m1 (held by
 * the processor) and m2 (queued), so the channel's next message is refused.
 */
async function startFullChannel(): Promise<Running & { release: () => void; fill(channelId: string): Promise<{ m1: string; m2: string }> }> {
  const held = heldProcessor();
  const running = await startGateway({ processor: held.processor, batchingDefaults: REJECT_WHEN_ONE_WAITS });
  onTestFinished(() => held.release());
  const { fake, flushed } = running;
  return {
    ...running,
    release: held.release,
    async fill(channelId) {
      const m1 = fake.sendUserMessage({ channelId, content: 'm1' });
      await fake.waitFor(() => held.started.length === 1, 'the first batch to start');
      const m2 = fake.sendUserMessage({ channelId, content: 'm2' });
      await fake.waitFor(() => flushed().length === 2, 'the second batch to wait');
      return { m1, m2 };
    },
  };
}

/** The bot's refusal notices, in the order the fake received them. */
function notices(fake: FakeDiscord): PostedMessage[] {
  return fake.postedMessages.filter((p) => p.content.startsWith('⚠️'));
}

function rejectedDrops(events: QueueEvent[]): number {
  return events.filter((e) => e.type === 'message.dropped' && e.reason === 'rejected').length;
}

describe('Discord refusals (overflow: reject) through the real gateway', () => {
  it('a refused message gets one notice replying to it, without pings; a second refusal within 10 s gets none', async () => {
    const { fake, events, release, fill } = await startFullChannel();
    const { channelId } = fake;
    await fill(channelId);

    const m3 = fake.sendUserMessage({ channelId, content: 'm3' });
    const [notice] = await fake.waitFor(() => notices(fake).length === 1 && notices(fake), 'the refusal notice');
    expect(notice?.channelId).toBe(channelId);
    expect(notice?.body).toMatchObject({
      content: "⚠️ Your message was not taken: this channel's queue is full. Please send it again in a moment.",
      message_reference: { message_id: m3, fail_if_not_exists: false },
      allowed_mentions: { parse: [], replied_user: false },
    });

    fake.sendUserMessage({ channelId, content: 'm4' });
    await fake.waitFor(() => rejectedDrops(events) === 2, 'the second refusal');
    // discord.js posts to one channel in order, so once both replies are in, a notice for m4 would be too.
    release();
    await posts(fake, 3);
    expect(fake.postedMessages.map((p) => p.content)).toEqual([notice?.content, 'done: m1', 'done: m2']);
    expect(notices(fake)).toHaveLength(1);
  });

  it('a redelivered message (same id) in a full channel gets no notice; the next new message does', async () => {
    const { fake, events, release, fill } = await startFullChannel();
    const { threadId, guildId, humanUser } = fake;
    const { m2 } = await fill(threadId);

    // Discord replays events after a RESUME: the adapter drops the id it already handed over.
    fake.dispatch('MESSAGE_CREATE', messagePayload({ id: m2, channelId: threadId, channelType: ChannelKind.PublicThread, guildId, author: humanUser, content: 'm2' }));
    const m3 = fake.sendUserMessage({ channelId: threadId, content: 'm3' });
    await fake.waitFor(() => notices(fake).length === 1, 'the refusal notice for m3');
    // Events arrive in order on one socket, so the redelivery was handled before m3: it never reached the queue.
    expect(rejectedDrops(events)).toBe(1);
    release();
    await posts(fake, 3);
    expect(notices(fake).map((n) => [n.channelId, (n.body.message_reference as { message_id: string }).message_id])).toEqual([[threadId, m3]]);
  });
});

describe('Discord shutdown through the real gateway', () => {
  it('gateway.close() destroys the client (clean close 1000) and nothing reconnects afterwards', async () => {
    const { fake, gateway } = await startGateway();
    fake.sendUserMessage({ channelId: fake.channelId, content: 'one last thing' });
    expect(await posts(fake, 1)).toEqual(['1 message from Alice: one last thing']);
    expect(fake.connections).toBe(1);
    expect(fake.openConnections).toBe(1);

    await gateway.close();
    await fake.waitFor(() => fake.openConnections === 0, 'the gateway socket to close');
    // 1000 is what client.destroy() sends; a dropped or killed client would show 1006.
    expect(fake.closeCodes).toEqual([1000]);
    const res = await fetch(`${fake.apiUrl}/v10/gateway`);
    expect(res.status).toBe(200); // the fake is still up and reachable: any reconnect would be seen
    await sleep(2_000);
    expect(fake.connections).toBe(1);
    expect(fake.openConnections).toBe(0);
    expect(fake.identifies).toBe(1);
    expect(fake.resumes).toBe(0);
    // Messages sent after shutdown go nowhere.
    fake.sendUserMessage({ channelId: fake.channelId, content: 'anyone?' });
    await sleep(WINDOW_MS * 2);
    expect(fake.postAttempts).toHaveLength(1);
  });
});

describe('Discord group channel with groupBy: author', () => {
  it('two authors interleaving → one batch per author burst, each in order, each reply a Discord reply to that author’s message', async () => {
    const running = await startGateway({ batchingDefaults: { ...LONG_WINDOW, groupBy: 'author' } });
    const { fake, gateway } = running;
    const ana = { id: '210000000000000001', username: 'ana', globalName: 'Ana' };
    const bo = { id: '210000000000000002', username: 'bo', globalName: 'Bo' };
    const sent: Record<string, string[]> = { ana: [], bo: [] };
    for (const [who, text] of [['ana', 'a1'], ['bo', 'b1'], ['ana', 'a2'], ['bo', 'b2'], ['ana', 'a3']] as const) {
      sent[who]!.push(fake.sendUserMessage({ channelId: fake.channelId, content: text, author: who === 'ana' ? ana : bo }));
    }
    const anaKey = `discord:${fake.channelId}/${ana.id}`;
    const boKey = `discord:${fake.channelId}/${bo.id}`;
    await expect.poll(async () => [(await gateway.queue.stats(anaKey))?.pending, (await gateway.queue.stats(boKey))?.pending], { timeout: 10_000, interval: 20 }).toEqual([3, 2]);
    expect(await gateway.queue.flush(anaKey)).toBe(true);
    expect(await gateway.queue.flush(boKey)).toBe(true);

    await posts(fake, 2);
    const byContent = new Map(fake.postedMessages.map((p) => [p.content, p]));
    const anaPost = byContent.get('3 messages from Ana: a1 / a2 / a3');
    const boPost = byContent.get('2 messages from Bo: b1 / b2');
    expect(anaPost?.channelId).toBe(fake.channelId);
    expect(boPost?.channelId).toBe(fake.channelId);
    // Threaded: each answer is a Discord reply to its author's latest message.
    expect((anaPost?.body.message_reference as { message_id?: string } | undefined)?.message_id).toBe(sent.ana!.at(-1));
    expect((boPost?.body.message_reference as { message_id?: string } | undefined)?.message_id).toBe(sent.bo!.at(-1));
    expect(running.events.filter((e) => e.type === 'batch.flushed').map((e) => e.channelKey).sort()).toEqual([anaKey, boKey].sort());
  });
});

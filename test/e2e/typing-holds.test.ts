import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { QueueEvent } from '../../src/core/events.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { launchBrowser } from '../helpers/chromium.js';
import { cli } from '../helpers/cli.js';
import { FakeTime } from '../helpers/fake-time.js';
import { tempState } from '../helpers/temp-state.js';

/**
 * Turn-taking end to end: the real gateway on an embedded engine whose clock is fake (so the seconds of
 * the scenarios are exact, whatever the machine's load), with real I/O around it: discord.js against the
 * fake Discord, and HTTP to the webhook routes. Time moves only when a test advances it, after the
 * platform's events were seen by the engine (`message.appended`, `batch.held`).
 */

const WINDOW_MS = 5_000;

interface Running {
  gateway: Gateway;
  time: FakeTime;
  events: QueueEvent[];
  /** Resolves once an event matching `probe` was seen (already, or later). */
  event(probe: (e: QueueEvent) => boolean, what: string): Promise<QueueEvent>;
  /** Every `batch.flushed` of `channelKey`, as `[size, reason]`. */
  sealed(channelKey: string): Array<[number, string]>;
}

/**
 * The channel's decision timeline, read over HTTP (`GET /api/v1/channels/:key/timeline`) and through the
 * real `batchgate timeline KEY --json`, says why each batch sealed when it did: one `held` entry per hold
 * the engine reported, with its cause (typing or the content rule), and one `sealed` entry per batch,
 * with its flush reason, in order.
 */
async function expectTimelineExplains(running: Running, channelKey: string): Promise<void> {
  const res = await fetch(`${running.gateway.url}/api/v1/channels/${encodeURIComponent(channelKey)}/timeline`);
  expect(res.status).toBe(200);
  const overHttp = (await res.json()) as { key: string; entries: Array<{ type: string; reason?: string }> };
  const reasonsOf = (type: string) => overHttp.entries.filter((e) => e.type === type).map((e) => e.reason);
  expect(reasonsOf('sealed')).toEqual(running.sealed(channelKey).map(([, reason]) => reason));
  expect(reasonsOf('held')).toEqual(running.events.flatMap((e) => (e.type === 'batch.held' && e.channelKey === channelKey ? [e.reason] : [])));
  const viaCli = await cli(['timeline', channelKey, '--json', '--url', running.gateway.url]);
  expect(viaCli.code).toBe(0);
  expect(JSON.parse(viaCli.stdout)).toEqual(overHttp);
}

async function startGateway(adapters: Record<string, unknown>, defaults: Record<string, unknown> = {}): Promise<Running> {
  const time = new FakeTime(Date.now());
  const config = parseConfig(
    {
      http: { port: 0 },
      state: tempState(),
      batching: { defaults: { windowMs: WINDOW_MS, maxWaitMs: 60_000, ...defaults } },
      adapters: { web: { enabled: false }, webhook: { enabled: false }, ...adapters },
    },
    {},
  );
  const gateway = createGateway({ config, clock: time, scheduler: time });
  onTestFinished(() => gateway.close().then(() => undefined));
  const events: QueueEvent[] = [];
  const waiters = new Set<() => void>();
  await gateway.start();
  gateway.queue.on((e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  const event = (probe: (e: QueueEvent) => boolean, what: string) =>
    new Promise<QueueEvent>((resolve, reject) => {
      const check = () => {
        const found = events.find(probe);
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} in ${JSON.stringify(events.map((e) => e.type))}`));
      }, 15_000);
      waiters.add(check);
      check();
    });
  const sealed = (channelKey: string) => events.flatMap((e) => (e.type === 'batch.flushed' && e.channelKey === channelKey ? [[e.size, e.reason] as [number, string]] : []));
  return { gateway, time, events, event, sealed };
}

/** Resolves once the channel's open batch holds `n` messages (the engine has seen them). */
async function pending(running: Running, channelKey: string, n: number): Promise<void> {
  await expect.poll(async () => (await running.gateway.queue.stats(channelKey))?.pending ?? 0, { timeout: 15_000, interval: 20 }).toBe(n);
}

describe('typing holds a Discord burst (discord.js against the fake Discord)', () => {
  async function discordGateway(): Promise<{ running: Running; fake: FakeDiscord; key: string }> {
    const fake = await startFakeDiscord();
    onTestFinished(() => fake.close());
    const running = await startGateway({ discord: { enabled: true, token: fake.token, apiUrl: fake.apiUrl } });
    return { running, fake, key: `discord:${fake.channelId}` };
  }

  /** Two lines, an 8 s pause (typing every 4 s of it when `typing`), a third line; returns the replies. */
  async function burst(typing: boolean): Promise<{ running: Running; fake: FakeDiscord; key: string }> {
    const setup = await discordGateway();
    const { running, fake } = setup;
    const key = `discord:${fake.channelId}`;
    const say = async (content: string, n: number) => {
      fake.sendUserMessage({ channelId: fake.channelId, content });
      await pending(running, key, n);
    };
    await say('so the deploy failed', 1);
    await running.time.advance(1_000);
    await say('and then the rollback too', 2);
    for (let pause = 0; pause < 8_000; pause += 4_000) {
      if (typing) {
        const held = running.events.filter((e) => e.type === 'batch.held').length;
        fake.sendTyping({ channelId: fake.channelId });
        await running.event((e) => e.type === 'batch.held' && running.events.filter((x) => x.type === 'batch.held').indexOf(e) === held, 'a typing hold');
      }
      await running.time.advance(4_000);
    }
    await say('any idea why?', typing ? 3 : 1);
    await running.time.advance(60_000);
    return setup;
  }

  it('a burst with an 8 s pause while TYPING_START keeps arriving gets one reply holding every message', async () => {
    const { running, fake, key } = await burst(true);
    await fake.waitFor(() => fake.postedMessages.length >= 1, 'the reply');
    expect(running.sealed(key)).toEqual([[3, 'window']]);
    expect(fake.postedMessages[0]?.content).toContain('so the deploy failed / and then the rollback too / any idea why?');
    const holds = running.events.filter((e) => e.type === 'batch.held');
    expect(holds.map((e) => e.type === 'batch.held' && e.reason)).toEqual(['typing', 'typing']);
    await expectTimelineExplains(running, key);
  });

  it('the same burst without typing gets two replies', async () => {
    const { running, fake, key } = await burst(false);
    await fake.waitFor(() => fake.postedMessages.length >= 2, 'two replies');
    expect(running.sealed(key)).toEqual([[2, 'window'], [1, 'window']]);
    expect(running.events.some((e) => e.type === 'batch.held')).toBe(false);
    await expectTimelineExplains(running, key);
  });
});

describe('the webhook', () => {
  async function webhookGateway(defaults: Record<string, unknown> = {}): Promise<Running> {
    return startGateway({ webhook: { enabled: true } }, defaults);
  }
  const post = async (running: Running, path: string, body: unknown) => {
    const res = await fetch(`${running.gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('POST /v1/typing holds the window of the typist\'s batch (held: true, one batch), not anyone else\'s, and says why a body is bad', async () => {
    const running = await webhookGateway();
    const key = 'webhook:room-1';
    expect(await post(running, '/v1/typing', { channelId: 'room-1', userId: 'ann' })).toEqual({ status: 202, body: { held: false } });
    expect((await post(running, '/v1/messages', { channelId: 'room-1', userId: 'ann', text: 'first', id: 'w-1' })).status).toBe(202);
    await pending(running, key, 1);
    expect(await post(running, '/v1/typing', { channelId: 'room-1', userId: 'bob' })).toEqual({ status: 202, body: { held: false } });
    await running.time.advance(4_000);
    expect(await post(running, '/v1/typing', { channelId: 'room-1', userId: 'ann' })).toEqual({ status: 202, body: { held: true } });
    // Past the 5 s window, inside the 10 s typing hold.
    await running.time.advance(4_000);
    expect(running.sealed(key)).toEqual([]);
    expect((await post(running, '/v1/messages', { channelId: 'room-1', userId: 'ann', text: 'second', id: 'w-2' })).status).toBe(202);
    await pending(running, key, 2);
    await running.time.advance(60_000);
    await running.event((e) => e.type === 'batch.completed', 'the batch completed');
    expect(running.sealed(key)).toEqual([[2, 'window']]);

    const bad = await post(running, '/v1/typing', { channelId: 'room-1' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('userId is required');

    const metrics = await (await fetch(`${running.gateway.url}/metrics`)).text();
    expect(metrics).toContain('batchgate_typing_signals_total{held="true"} 1');
    expect(metrics).toContain('batchgate_typing_signals_total{held="false"} 2');
    await expectTimelineExplains(running, key);
  });

  it('in a channel grouped by author, the typist\'s own author batch is held', async () => {
    const running = await webhookGateway({ groupBy: 'author' });
    const key = 'webhook:room-3/ann';
    expect((await post(running, '/v1/messages', { channelId: 'room-3', userId: 'ann', text: 'first', id: 'g-1' })).status).toBe(202);
    await pending(running, key, 1);
    await running.time.advance(4_000);
    expect(await post(running, '/v1/typing', { channelId: 'room-3', userId: 'ann' })).toEqual({ status: 202, body: { held: true } });
    await running.time.advance(4_000);
    expect(running.sealed(key)).toEqual([]);
    await running.time.advance(60_000);
    await running.event((e) => e.type === 'batch.completed', 'the batch completed');
    expect(running.sealed(key)).toEqual([[1, 'window']]);
  });

  it('a message ending in "logs below:" followed 10 s later by the logs gets one batch with both (window 5 s)', async () => {
    const running = await webhookGateway();
    const key = 'webhook:room-2';
    await post(running, '/v1/messages', { channelId: 'room-2', userId: 'ann', text: 'the worker crashes on start, logs below:', id: 'l-1' });
    await pending(running, key, 1);
    await running.time.advance(10_000);
    expect(running.sealed(key)).toEqual([]);
    await post(running, '/v1/messages', { channelId: 'room-2', userId: 'ann', text: 'Error: EADDRINUSE 0.0.0.0:8080', id: 'l-2' });
    await pending(running, key, 2);
    await running.time.advance(60_000);
    await running.event((e) => e.type === 'batch.completed', 'the batch completed');
    expect(running.sealed(key)).toEqual([[2, 'window']]);
    await expectTimelineExplains(running, key);
  });
});

describe('the web chat page in Chromium', () => {
  it('sends typing while the person types, and that holds its window until the next line joins it', async () => {
    const running = await startGateway({ web: { enabled: true } });
    const browser = await launchBrowser();
    onTestFinished(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`${running.gateway.url}/`);
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
    const channelId = String(await (await page.waitForFunction(() => localStorage.getItem('batchgate.chat.channelId'))).jsonValue());
    const key = `web:${channelId}`;
    const composer = page.getByTestId('composer');
    await composer.fill('my printer shows error 0x61011beb');
    await composer.press('Enter');
    await pending(running, key, 1);

    // Keystrokes, as a person types them: the page sends the typing frame, the engine holds the batch.
    await composer.pressSequentially('and it started after the update');
    const held = await running.event((e) => e.type === 'batch.held' && e.channelKey === key, 'a typing hold');
    expect(held).toMatchObject({ reason: 'typing' });
    // Past the 5 s window, inside the 10 s typing hold: still collecting, and the page says so.
    await running.time.advance(8_000);
    expect(running.sealed(key)).toEqual([]);
    await expect.poll(() => page.getByTestId('status').getAttribute('data-kind')).toBe('collecting');
    await composer.press('Enter');
    await pending(running, key, 2);
    await running.time.advance(60_000);
    await running.event((e) => e.type === 'batch.completed' && e.channelKey === key, 'the batch completed');
    expect(running.sealed(key)).toEqual([[2, 'window']]);
    await expectTimelineExplains(running, key);
  });
});

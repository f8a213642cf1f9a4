import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { startFakeDiscord } from '../fakes/discord/index.js';
import { FakeStream, startFakeOpenAi, type FakeOpenAi } from '../fakes/openai/index.js';
import { eventCallback, messageEvent, startFakeSlack } from '../fakes/slack/index.js';
import { launchBrowser } from '../helpers/chromium.js';

/**
 * Streamed LLM answers end to end: the gateway built from config with the `openai` processor against the
 * fake OpenAI-compatible server, whose stream the test writes delta by delta; each platform's real client
 * against its fake. Asserted where a user would see it: the platform fake's posts and edits (with the
 * times it received them), the web chat page in Chromium.
 */

const WAIT = { timeout: 15_000, interval: 20 };
let openai: FakeOpenAi;
beforeAll(async () => {
  openai = await startFakeOpenAi();
});
afterAll(async () => {
  await openai?.close();
});

async function startGateway(adapters: Record<string, unknown>): Promise<Gateway> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-stream-'));
  const config = parseConfig(
    {
      http: { port: 0 },
      batching: { defaults: { windowMs: 200 } },
      state: { spoolPath: path.join(dir, 'spool.jsonl') },
      processor: { type: 'openai', baseUrl: openai.baseUrl, model: 'fake-model', stream: true },
      adapters: { web: { enabled: false }, webhook: { enabled: false }, ...adapters },
    },
    {},
  );
  const gateway = createGateway({ config, logger: silentLogger(), baseDir: dir });
  onTestFinished(() => gateway.close().then(() => undefined));
  await gateway.start();
  return gateway;
}

/** Scripts the next answer as a stream the test writes. */
function nextStream(): FakeStream {
  const stream = new FakeStream();
  openai.enqueue({ type: 'stream', stream });
  return stream;
}

/** Gaps between consecutive times, in ms. */
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('streamed replies grow in one message', () => {
  it('Discord: one POST, then PATCH edits of that message no more often than once a second, ending with the whole answer', async () => {
    const fake = await startFakeDiscord();
    onTestFinished(() => fake.close());
    await startGateway({ discord: { enabled: true, token: fake.token, apiUrl: fake.apiUrl } });
    const stream = nextStream();
    fake.sendUserMessage({ channelId: fake.channelId, content: 'explain batching' });
    await stream.opened;
    stream.push('Batching ');
    await fake.waitFor(() => fake.postedMessages.length === 1, 'the first post');
    stream.push('collects ');
    stream.push('messages');
    await fake.waitFor(() => fake.editedMessages.at(-1)?.content === 'Batching collects messages', 'the first edit');
    stream.push(' and answers once.');
    await fake.waitFor(() => fake.editedMessages.at(-1)?.content === 'Batching collects messages and answers once.', 'the second edit');
    stream.end();

    const [post] = fake.postedMessages;
    expect(fake.postedMessages).toHaveLength(1);
    expect(post!.content).toBe('Batching ');
    expect(fake.editedMessages.every((e) => e.id === post!.id && e.channelId === fake.channelId)).toBe(true);
    for (const gap of gaps([post!.at, ...fake.editedMessages.map((e) => e.at)])) expect(gap).toBeGreaterThanOrEqual(1_000);
    expect(fake.requests.filter((r) => r.method === 'PATCH').every((r) => r.status === 200)).toBe(true);
  });

  it('Slack: chat.postMessage, then chat.update of that ts, spaced at least a second apart', async () => {
    const fake = await startFakeSlack();
    onTestFinished(() => fake.close());
    const gateway = await startGateway({ slack: { enabled: true, mode: 'http', botToken: fake.botToken, signingSecret: fake.signingSecret, apiUrl: fake.apiUrl } });
    const stream = nextStream();
    const res = await fake.postEvent(`${gateway.url}/slack/events`, eventCallback(messageEvent({ channel: 'C0STREAM1', text: 'status?', user: 'U0ALICE01' })));
    expect(res.status).toBe(200);
    await stream.opened;
    stream.push('All ');
    await vi.waitFor(() => expect(fake.posts().filter((p) => p.channel === 'C0STREAM1')).toHaveLength(1), WAIT);
    stream.push('systems');
    const updates = () => fake.callsTo('chat.update').filter((c) => c.response.ok === true);
    await vi.waitFor(() => expect(updates().at(-1)?.args.text).toBe('All systems'), WAIT);
    stream.push(' go.');
    stream.end();
    await vi.waitFor(() => expect(updates().at(-1)?.args.text).toBe('All systems go.'), WAIT);

    const post = fake.callsTo('chat.postMessage').find((c) => c.response.ok === true)!;
    expect(post.args.text).toBe('All ');
    expect(updates().every((u) => u.args.ts === post.response.ts && u.args.channel === 'C0STREAM1')).toBe(true);
    for (const gap of gaps([post.at, ...updates().map((u) => u.at)])) expect(gap).toBeGreaterThanOrEqual(1_000);
    expect(fake.posts()).toHaveLength(1);
  });

  describe('web chat in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('the answer grows in one bot bubble, marked as streaming until its last frame', async () => {
      const gateway = await startGateway({ web: { enabled: true } });
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${gateway.url}/`);
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
      const stream = nextStream();
      const composer = page.getByTestId('composer');
      await composer.fill('write a haiku');
      await composer.press('Enter');
      await stream.opened;
      const bubbles = page.locator('[data-testid="message-bot"]');
      const texts = () => page.locator('[data-testid="message-bot"] [data-testid="message-text"]').allInnerTexts();

      stream.push('An old silent pond');
      await expect.poll(texts, WAIT).toEqual(['An old silent pond']);
      expect(await bubbles.first().getAttribute('data-streaming')).toBe('true');
      stream.push('\nA frog jumps into the pond');
      await expect.poll(texts, WAIT).toEqual(['An old silent pond\nA frog jumps into the pond']);
      stream.push('\nsplash! Silence again.');
      stream.end();
      await expect.poll(texts, WAIT).toEqual(['An old silent pond\nA frog jumps into the pond\nsplash! Silence again.']);
      await expect.poll(() => bubbles.first().getAttribute('data-streaming'), WAIT).toBe('false');
      // A reload shows the whole answer from the page's transcript, once.
      await page.reload();
      await expect.poll(texts, WAIT).toEqual(['An old silent pond\nA frog jumps into the pond\nsplash! Silence again.']);
    });
  });
});

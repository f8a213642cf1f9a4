import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { ErrorCode } from '../../../src/errors.js';
import type { QueueEvent } from '../../../src/core/events.js';
import { launchBrowser } from '../../helpers/chromium.js';
import { startWebHarness, until, type WebHarness } from './harness.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  onTestFinished(() => context.close());
  return context;
}

/** Every frame the page sends on its chat sockets, parsed. */
function recordSentFrames(page: Page): Array<Record<string, unknown>> {
  const sent: Array<Record<string, unknown>> = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string') sent.push(JSON.parse(f.payload) as Record<string, unknown>);
    });
  });
  return sent;
}

async function openChat(page: Page, h: WebHarness): Promise<void> {
  await page.goto(`${h.baseUrl}/`);
  await waitForConnected(page);
}

/** The status line says "connecting…"/"reconnecting…" until the server's welcome arrived. */
async function waitForConnected(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="status"]') as HTMLElement | null;
    return s !== null && s.dataset.kind !== 'offline';
  });
}

async function typeAndSend(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer');
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    await composer.pressSequentially(line);
    if (i < lines.length - 1) await composer.press('Shift+Enter');
  }
  await composer.press('Enter');
}

/** The visible text of each bubble of one side, without the screen-reader label. */
async function texts(page: Page, side: 'user' | 'bot'): Promise<string[]> {
  return page.locator(`[data-testid="message-${side}"] [data-testid="message-text"]`).allInnerTexts();
}

function channelOf(h: WebHarness): string {
  const first = h.accepted[0];
  if (!first) throw new Error('no message accepted yet');
  return first.channelId;
}

function ev(channelId: string, e: Record<string, unknown> & { type: QueueEvent['type'] }): QueueEvent {
  return { channelKey: `web:${channelId}`, at: Date.now(), ...e } as QueueEvent;
}

function countdownSeconds(status: string): number {
  const m = /collecting… (\d+\.\d) s/.exec(status);
  if (!m?.[1]) throw new Error(`no countdown in status "${status}"`);
  return Number(m[1]);
}

describe('web chat page in Chromium', () => {
  it('loads from loopback only, counts down while collecting, shows typing, then the reply', async () => {
    const h = await startWebHarness();
    h.windowMs = 20_000;
    const context = await newContext();
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('websocket', (ws) => requested.push(ws.url()));

    await openChat(page, h);
    await typeAndSend(page, 'first');
    await typeAndSend(page, 'second');
    await typeAndSend(page, 'third\nwith a second line');
    await until(() => h.accepted.length === 3, 'three accepted messages');
    expect(h.accepted.map((m) => m.text)).toEqual(['first', 'second', 'third\nwith a second line']);
    expect(new Set(h.accepted.map((m) => m.channelId)).size).toBe(1);
    expect(h.accepted.every((m) => m.platform === 'web' && m.userName === 'You')).toBe(true);

    const users = page.getByTestId('message-user');
    await users.nth(2).and(page.locator('[data-state="accepted"]')).waitFor();
    expect(await texts(page, 'user')).toEqual(['first', 'second', 'third\nwith a second line']);

    const status = page.getByTestId('status');
    await page.waitForFunction(() => /collecting… \d+\.\d s · 3 messages/.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    const before = countdownSeconds(await status.innerText());
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThanOrEqual(20);
    // It counts down on its own, without new frames.
    await page.waitForFunction(
      (start) => {
        const m = /collecting… (\d+\.\d) s/.exec(document.querySelector('[data-testid="status"]')?.textContent ?? '');
        return m !== null && Number(m[1]) < start;
      },
      before,
    );

    const channelId = channelOf(h);
    const typing = page.getByTestId('typing');
    expect(await typing.isVisible()).toBe(false);
    h.adapter.onQueueEvent(ev(channelId, { type: 'batch.flushed', batchId: 'b1', size: 3, reason: 'window', deadline: Date.now(), latenessMs: 0 }));
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent === 'waiting for the bot…');
    h.adapter.onQueueEvent(ev(channelId, { type: 'batch.started', batchId: 'b1', size: 3, waitMs: 0, messageIds: h.accepted.map((m) => m.id) }));
    await typing.waitFor({ state: 'visible' });
    expect(await typing.innerText()).toContain('bot is typing…');
    expect(await status.innerText()).toBe('');

    await h.adapter.send({ platform: 'web', channelId, text: 'You said three things.\nHere is one answer.', batchId: 'b1', inReplyTo: h.accepted.map((m) => m.id) });
    const bot = page.getByTestId('message-bot');
    await bot.first().waitFor();
    expect((await texts(page, 'bot'))[0]).toBe('You said three things.\nHere is one answer.');
    h.adapter.onQueueEvent(ev(channelId, { type: 'batch.completed', batchId: 'b1', size: 3, durationMs: 10, replies: 1 }));
    await typing.waitFor({ state: 'hidden' });

    // The user's bubbles sit on the right, the bot's on the left.
    const logBox = (await page.getByTestId('log').boundingBox())!;
    const userBox = (await users.first().boundingBox())!;
    const botBox = (await bot.first().boundingBox())!;
    expect(logBox.x + logBox.width - (userBox.x + userBox.width)).toBeLessThan(30);
    expect(botBox.x - logBox.x).toBeLessThan(30);

    expect(requested.length).toBeGreaterThanOrEqual(4);
    for (const url of requested) expect(new URL(url).hostname, url).toBe('127.0.0.1');
  });

  it('keeps the channel across a reload and shows a reply that arrived while the page was away', async () => {
    const h = await startWebHarness();
    const context = await newContext();
    const page = await context.newPage();
    const sent = recordSentFrames(page);

    await openChat(page, h);
    await typeAndSend(page, 'are you there?');
    await until(() => h.accepted.length === 1, 'the message');
    await page.locator('[data-testid="message-user"][data-state="accepted"]').waitFor();
    const channelId = channelOf(h);

    await page.goto('about:blank');
    await until(() => h.adapter.socketsOf(channelId) === 0, 'the page to disconnect');
    await h.adapter.send({ platform: 'web', channelId, text: 'yes, sorry for the wait', batchId: 'b1', inReplyTo: [h.accepted[0]!.id] });
    expect(h.adapter.stats().bufferedReplies).toBe(1);

    await openChat(page, h);
    await page.getByTestId('message-bot').waitFor();
    expect(await texts(page, 'user')).toEqual(['are you there?']);
    expect(await texts(page, 'bot')).toEqual(['yes, sorry for the wait']);

    await page.reload();
    await waitForConnected(page);
    await page.getByTestId('message-bot').waitFor();
    expect(await texts(page, 'user')).toEqual(['are you there?']);
    expect(await texts(page, 'bot')).toEqual(['yes, sorry for the wait']);

    const hellos = sent.filter((f) => f.type === 'hello');
    expect(hellos).toHaveLength(3);
    expect(hellos[0]).toEqual({ type: 'hello' });
    expect(hellos[1]).toEqual({ type: 'hello', channelId });
    expect(hellos[2]).toEqual({ type: 'hello', channelId });
  });

  it('shows one conversation in every tab of the same browser', async () => {
    const h = await startWebHarness();
    const context = await newContext();
    const tab1 = await context.newPage();
    await openChat(tab1, h);
    await typeAndSend(tab1, 'from tab one');
    await until(() => h.accepted.length === 1, 'the message');
    const tab2 = await context.newPage();
    await openChat(tab2, h);
    const channelId = channelOf(h);
    await until(() => h.adapter.socketsOf(channelId) === 2, 'both tabs on one channel');

    await typeAndSend(tab2, 'and from tab two');
    await tab1.getByTestId('message-user').nth(1).waitFor();
    expect(await texts(tab1, 'user')).toEqual(['from tab one', 'and from tab two']);

    await h.adapter.send({ platform: 'web', channelId, text: 'hello, both of you', batchId: 'b1', inReplyTo: [] });
    for (const tab of [tab1, tab2]) {
      await tab.getByTestId('message-bot').waitFor();
      expect(await texts(tab, 'bot')).toEqual(['hello, both of you']);
    }
  });

  it('says "reconnecting…" when the gateway goes away and carries on, same channel, when it is back', async () => {
    const first = await startWebHarness();
    const context = await newContext();
    const page = await context.newPage();
    const sent = recordSentFrames(page);
    await openChat(page, first);
    await typeAndSend(page, 'before the restart');
    await until(() => first.accepted.length === 1, 'the first message');
    const channelId = channelOf(first);
    const port = Number(new URL(first.baseUrl).port);

    await first.stop();
    await page.waitForFunction(() => (document.querySelector('[data-testid="status"]')?.textContent ?? '').startsWith('reconnecting…'));

    const second = await startWebHarness({ port });
    await waitForConnected(page);
    await typeAndSend(page, 'after the restart');
    await until(() => second.accepted.length === 1, 'the message on the new gateway');
    expect(second.accepted[0]).toMatchObject({ channelId, text: 'after the restart' });
    expect(sent.filter((f) => f.type === 'hello').at(-1)).toEqual({ type: 'hello', channelId });
  });

  it('ends the collecting state when the reply to the newest message arrives, even without queue events', async () => {
    const h = await startWebHarness();
    h.windowMs = 30_000;
    const context = await newContext();
    const page = await context.newPage();
    await openChat(page, h);
    await typeAndSend(page, 'quick question');
    await page.waitForFunction(() => /collecting…/.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    const msg = h.accepted[0]!;
    await h.adapter.send({ platform: 'web', channelId: msg.channelId, text: 'quick answer', batchId: 'b1', inReplyTo: [msg.id] });
    await page.getByTestId('message-bot').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent === '');
  });

  it('marks a refused message on its bubble with the reason', async () => {
    const h = await startWebHarness();
    h.answer = () => ({ accepted: false, reason: ErrorCode.QueueFull, detail: 'try again later' });
    const context = await newContext();
    const page = await context.newPage();
    await openChat(page, h);
    await typeAndSend(page, 'one too many');
    const failed = page.locator('[data-testid="message-user"][data-state="failed"]');
    await failed.waitFor();
    expect(await failed.innerText()).toContain('Not sent: queue full: try again later');
  });

  it('sends the name the user set, and remembers it after a reload', async () => {
    const h = await startWebHarness();
    const context = await newContext();
    const page = await context.newPage();
    await openChat(page, h);
    await page.getByTestId('settings-toggle').click();
    await page.getByLabel('Your name').fill('Ada');
    await page.getByRole('button', { name: 'Save' }).click();
    await typeAndSend(page, 'named');
    await page.locator('[data-testid="message-user"][data-state="accepted"]').waitFor();
    await page.reload();
    await waitForConnected(page);
    await typeAndSend(page, 'still named');
    await until(() => h.accepted.length === 2, 'two messages');
    expect(h.accepted.map((m) => [m.userName, m.text])).toEqual([
      ['Ada', 'named'],
      ['Ada', 'still named'],
    ]);
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`fits a 360×740 phone screen (${scheme})`, async () => {
      const h = await startWebHarness();
      h.windowMs = 60_000;
      const context = await newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: scheme });
      const page = await context.newPage();
      await openChat(page, h);
      await typeAndSend(page, 'Hi! Can you check my order?');
      await typeAndSend(page, 'It is #4411');
      await until(() => h.accepted.length === 2, 'two messages');
      const channelId = channelOf(h);
      h.adapter.onQueueEvent(ev(channelId, { type: 'batch.started', batchId: 'b1', size: 2, waitMs: 0, messageIds: [] }));
      await h.adapter.send({
        platform: 'web',
        channelId,
        text: 'Order #4411 shipped yesterday and should arrive on Thursday. A tracking link went to your e-mail: https://example.invalid/track/4411-a-very-long-token-without-spaces',
        batchId: 'b1',
        inReplyTo: [],
      });
      h.adapter.onQueueEvent(ev(channelId, { type: 'batch.completed', batchId: 'b1', size: 2, durationMs: 10, replies: 1 }));
      await typeAndSend(page, 'Thanks!');
      await until(() => h.accepted.length === 3, 'third message');
      h.adapter.onQueueEvent(ev(channelId, { type: 'batch.started', batchId: 'b2', size: 1, waitMs: 0, messageIds: [] }));
      await page.getByTestId('typing').waitFor({ state: 'visible' });
      await page.getByTestId('message-bot').waitFor();
      await page.waitForFunction(() => /collecting…/.test(document.querySelector('[data-testid="status"]')?.textContent ?? ''));

      const layout = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        bodyFont: Number.parseFloat(getComputedStyle(document.body).fontSize),
      }));
      expect(layout.scrollWidth).toBeLessThanOrEqual(360);
      expect(layout.bodyFont).toBeGreaterThanOrEqual(16);
      const send = (await page.getByTestId('send').boundingBox())!;
      const composer = (await page.getByTestId('composer').boundingBox())!;
      expect(send.height).toBeGreaterThanOrEqual(44);
      expect(send.width).toBeGreaterThanOrEqual(44);
      expect(composer.y + composer.height).toBeLessThanOrEqual(740);
      for (const box of [send, composer]) expect(box.x + box.width).toBeLessThanOrEqual(360);

      await mkdir('test-artifacts', { recursive: true });
      await page.screenshot({ path: scheme === 'light' ? 'test-artifacts/web-chat.png' : 'test-artifacts/web-chat-dark.png' });
    });
  }
});

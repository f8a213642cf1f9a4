import { mkdir } from 'node:fs/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import type { Processor } from '../../src/processors/processor.js';
import type { Locator } from 'playwright-core';
import { launchBrowser } from '../helpers/chromium.js';
import { api, startGateway, until } from '../integration/admin/harness.js';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

/** Opens /dashboard in a fresh Chromium (closed after the test), collecting the page's uncaught errors. */
async function openDashboard(gw: Gateway) {
  const browser = await launchBrowser();
  onTestFinished(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${gw.url}/dashboard`);
  return { page, pageErrors };
}

/** The y-axis tick labels a chart drew last (the page keeps them on the chart element, as `data-y-ticks`). */
async function axisTicks(chart: Locator): Promise<string[]> {
  const ticks = await chart.getAttribute('data-y-ticks');
  return ticks ? ticks.split('|') : [];
}

/**
 * The values a chart series shows in its legend as the pointer moves across the plot, from left to
 * right: what a person reads when hovering the line.
 */
async function seriesValues(chart: Locator, label: string): Promise<number[]> {
  const plot = chart.locator('.u-over');
  const box = await plot.boundingBox();
  if (!box) return [];
  const legend = chart.locator('.u-legend .u-series', { hasText: label }).locator('.u-value');
  const values: number[] = [];
  for (let x = box.width - 2; x > 0; x -= box.width / 12) {
    await plot.hover({ position: { x, y: box.height / 2 } });
    const v = Number.parseFloat((await legend.textContent()) ?? '');
    if (Number.isFinite(v)) values.push(v);
  }
  return values;
}

describe('dashboard (Chromium)', { timeout: 90_000 }, () => {
  it('shows channels live, cancels an in-flight batch from the table, pages and searches', async () => {
    // chat:support's pairs seal by size however slow the machine; the other channels by a short window.
    const support = { match: 'chat:support', windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 2 };
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 40, maxBatchSize: 5 }, channels: [support] } });
    const { page, pageErrors } = await openDashboard(gw);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#empty').isVisible()).toBe(true);

    // A channel appears as its messages arrive, and shows its batch in flight.
    await chat.say('support', 'my order is late');
    await chat.say('support', 'order #4411');
    const row = page.locator('tr[data-key="chat:support"]');
    await row.waitFor({ timeout: 10_000 });
    const first = await processor.started(1);
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 10_000 }).toBe('running');
    await expect.poll(() => row.locator('td.inflight').textContent()).toMatch(/^2 msg · \d/);

    // Cancel from the table, through the confirmation dialog; the API shows the effect.
    await row.locator('button[data-action="cancel"]').click();
    await page.locator('#confirm').waitFor({ state: 'visible' });
    expect(await page.locator('#confirm-text').textContent()).toContain('chat:support');
    await page.locator('#confirm-ok').click();
    await until(() => first.abortedAt !== undefined, 10_000, 'the batch to abort');
    const stats = await api(gw, 'GET', '/api/v1/channels/chat%3Asupport');
    expect(stats.body).toMatchObject({ processing: false, counters: { cancelled: 1 } });
    await expect.poll(() => row.locator('td.num').nth(5).textContent(), { timeout: 10_000 }).toBe('1'); // cancel column
    await expect.poll(() => page.locator('#events li .kind.batch-cancelled').count()).toBeGreaterThan(0);

    // Stop with confirmation, then resume.
    await row.locator('button[data-action="stop"]').click();
    await page.locator('#confirm-ok').click();
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 10_000 }).toBe('paused');
    expect((await api(gw, 'GET', '/api/v1/channels/chat%3Asupport')).body.paused).toBe(true);
    await row.locator('button[data-action="resume"]').click();
    await expect.poll(async () => (await api(gw, 'GET', '/api/v1/channels/chat%3Asupport')).body.paused, { timeout: 10_000 }).toBe(false);

    // Settings editor: a bad value shows the server's field error, a good one is saved.
    await row.locator('button[data-action="settings"]').click();
    const form = page.locator('tr.settings-row[data-key="chat:support"] form');
    await expect.poll(() => form.locator('input[name="windowMs"]').inputValue()).toBe('60000');
    await form.locator('input[name="windowMs"]').fill('750');
    await form.locator('button[type="submit"]').click();
    await expect.poll(() => form.locator('.form-status').textContent()).toContain('saved: windowMs');
    expect((await api(gw, 'GET', '/api/v1/channels/chat%3Asupport/settings')).body.override).toEqual({ windowMs: 750 });
    await form.locator('input[name="maxBatchSize"]').fill('0');
    await form.locator('button[type="submit"]').click();
    await expect.poll(() => form.locator('.form-status').textContent()).toContain('maxBatchSize');

    // Many channels: paged, searchable. Let the rest run through so the charts have data.
    processor.auto = true;
    for (const c of processor.calls) if (!c.abortedAt) c.release();
    for (let i = 0; i < 130; i++) await chat.say(`room-${String(i).padStart(3, '0')}`, `hello ${i}`);
    for (let i = 0; i < 12; i++) await chat.say('busy-room', `burst ${i}`);
    await expect.poll(() => page.locator('#page').textContent(), { timeout: 15_000 }).toMatch(/^1 \/ 3$/);
    await page.locator('#search').fill('room-12');
    await expect.poll(() => page.locator('#rows tr[data-key]').count(), { timeout: 10_000 }).toBe(10);
    expect(await page.locator('#total').textContent()).toBe('10 matching');
    await page.locator('#search').fill('');
    await page.locator('#sort').selectOption('key');
    await expect.poll(() => page.locator('#rows tr[data-key]').count(), { timeout: 10_000 }).toBe(50);
    await page.locator('#next').click();
    await expect.poll(() => page.locator('#page').textContent()).toBe('2 / 3');

    // A live in-flight row for the screenshot: one slow batch.
    await page.locator('#prev').click();
    await page.locator('#sort').selectOption('busy');
    processor.auto = false;
    await chat.say('support', 'are you there?');
    await chat.say('support', 'hello??');
    await expect.poll(() => page.locator('tr[data-key="chat:support"] td.state').textContent(), { timeout: 10_000 }).toBe('running');
    await new Promise((r) => setTimeout(r, 2_500)); // a few rate samples on the throughput chart
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('dashboard.png', ARTIFACTS).pathname, fullPage: true });
    expect(pageErrors).toEqual([]);
    for (const c of processor.calls) if (!c.abortedAt) c.release();
  });

  it('cards and charts follow the traffic while it flows: channel count, messages/s, readable axes', async () => {
    // Batches reply in about a millisecond, so the processing-time chart holds sub-millisecond to
    // few-millisecond values: the range whose tick labels used to repeat (0.001, 0.001).
    // Each channel hears every 160 ms and its window is 60 ms: batches seal by the timer (lateness chart).
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60, maxBatchSize: 5 } } });
    const { page, pageErrors } = await openDashboard(gw);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });

    // Steady traffic on four channels until the checks below are done.
    const rooms = ['alpha', 'bravo', 'charlie', 'delta'];
    let sent = 0;
    const traffic = setInterval(() => void chat.say(rooms[sent % rooms.length]!, `message ${sent++}`), 40);
    onTestFinished(() => clearInterval(traffic));

    const rows = page.locator('#rows tr[data-key]');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
    await expect.poll(() => page.locator('#t-channels').textContent(), { timeout: 10_000 }).toBe('4');

    // messages/s: the card and the throughput line both show the arriving messages (about 25/s).
    await expect.poll(async () => Number(await page.locator('#t-mps').textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
    const rate = page.locator('#c-rate');
    await expect.poll(async () => Math.max(0, ...(await seriesValues(rate, 'messages/s'))), { timeout: 15_000 }).toBeGreaterThan(0);

    // Every axis with numbers names its unit in its labels, and no two labels repeat.
    for (const id of ['#c-proc', '#c-late']) await expect.poll(async () => (await axisTicks(page.locator(id))).length, { timeout: 15_000 }).toBeGreaterThan(1);
    for (const [id, unit] of [['#c-rate', /\/s$/], ['#c-late', / (ms|s)$/], ['#c-proc', / (ms|s)$/], ['#c-size', /^\d+$/]] as const) {
      const ticks = await axisTicks(page.locator(id));
      expect(ticks.length, `${id} y ticks`).toBeGreaterThan(1);
      expect(new Set(ticks).size, `${id} y ticks ${ticks.join(', ')}`).toBe(ticks.length);
      for (const t of ticks) expect(t, `${id} y tick`).toMatch(unit);
    }

    // Traffic stops; once every channel is idle the card still counts the four channels the table lists.
    clearInterval(traffic);
    await expect.poll(async () => (await api(gw, 'GET', '/api/v1/stats')).body.channels.active, { timeout: 15_000 }).toBe(0);
    await expect.poll(() => page.locator('#t-channels').textContent(), { timeout: 10_000 }).toBe('4');
    expect(await rows.count()).toBe(4);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('dashboard-traffic.png', ARTIFACTS).pathname, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('lists failed batches live, texts as text, also on a phone screen', async () => {
    // A bot that fails every batch holding a marked text, and answers the rest.
    const failMarked: Processor = async (batch, ctx) => {
      if (batch.messages.some((m) => m.text.includes('[fail]'))) throw new Error('bot crashed on [fail]');
      await ctx.reply('ok');
    };
    // 'ops' seals by size (its three messages are one batch however slow the machine); the others by the window.
    const { gw, chat } = await startGateway({ token: 'dl-token', processor: failMarked, batching: { defaults: { windowMs: 300, maxBatchSize: 3 } } });
    const { page, pageErrors } = await openDashboard(gw);
    await page.locator('#token').fill('dl-token'); // the list comes through the page's token-sending api()
    await page.locator('#auth-form button').click();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#dead-letters-empty').textContent(), { timeout: 10_000 }).toBe('No failed batches.');
    await expect.poll(() => page.locator('#dead-letters-empty').isVisible()).toBe(true);

    // One batch of three messages fails: one of them tries to inject markup, one is long.
    const injection = '<img src=x onerror="window.__injected = true">';
    const long = `[fail] ${'x'.repeat(400)}`;
    await chat.say('ops', 'please [fail] now');
    await chat.say('ops', injection);
    await chat.say('ops', long);
    await chat.say('fine', 'this one is answered');
    const item = page.locator('#dead-letters > li');
    await expect.poll(() => item.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.locator('#dead-letters-empty').isVisible()).toBe(false);
    expect(await item.locator('.dl-key').textContent()).toBe('chat:ops');
    expect(await item.locator('.dl-error').textContent()).toBe('bot crashed on [fail]');
    expect(await item.locator('.dl-head').textContent()).toContain('3 msg');
    expect(await item.locator('.dl-texts .dl-text').allTextContents()).toEqual(['please [fail] now', injection, `${long.slice(0, 140)}…`]);
    expect(await item.locator('.dl-texts li').nth(2).getAttribute('title')).toBe(long);
    expect(await item.locator('.dl-author').first().textContent()).toBe('Ana');
    // The markup stayed text: no element was created from it and its handler never ran.
    expect(await page.locator('#dead-letters img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();

    // A later failure comes first, still without a reload.
    await chat.say('ops-2', 'second [fail]');
    await expect.poll(() => item.count(), { timeout: 10_000 }).toBe(2);
    expect(await item.first().locator('.dl-key').textContent()).toBe('chat:ops-2');
    const listed = await api(gw, 'GET', '/api/v1/dead-letters?limit=20', undefined, { authorization: 'Bearer dl-token' });
    expect(listed.body.deadLetters.map((d: { channelKey: string }) => d.channelKey)).toEqual(['chat:ops-2', 'chat:ops']);

    // Phone screen: the page does not scroll sideways (the channel table scrolls in its panel) and the
    // failed batches' long texts wrap inside theirs.
    await page.setViewportSize({ width: 360, height: 740 });
    await page.locator('section.failed').scrollIntoViewIfNeeded();
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const panel = await page.locator('section.failed').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right }));
    expect(panel.scroll).toBeLessThanOrEqual(panel.client);
    expect(panel.right).toBeLessThanOrEqual(360);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.locator('section.failed').screenshot({ path: new URL('dashboard-failed-phone.png', ARTIFACTS).pathname });
    expect(pageErrors).toEqual([]);
  });

  it('asks for the token when the gateway has one, then works with it', async () => {
    const { gw, chat } = await startGateway({ token: 'dash-token' });
    const browser = await launchBrowser();
    onTestFinished(() => browser.close());
    const page = await browser.newPage();
    const response = await page.goto(`${gw.url}/dashboard`);
    expect(response?.status()).toBe(401);
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.locator('#token').fill('wrong');
    await page.locator('#auth-form button').click();
    await expect.poll(() => page.locator('#auth-error').textContent()).toContain('refused');
    await page.locator('#token').fill('dash-token');
    await page.locator('#auth-form button').click();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    await chat.say('tok-room', 'hi');
    await page.locator('tr[data-key="chat:tok-room"]').waitFor({ timeout: 10_000 });
  });
});

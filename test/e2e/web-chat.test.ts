import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { launchBrowser } from '../helpers/chromium.js';
import { spawnGateway } from '../helpers/spawn-gateway.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  await composer.press('Enter');
}

/** Waits until the page is connected and the gateway gave it its channel; returns the channel key. */
async function channelKeyOf(page: Page): Promise<string> {
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
  const handle = await page.waitForFunction(() => localStorage.getItem('batchgate.chat.channelId'));
  return `web:${String(await handle.jsonValue())}`;
}

/**
 * Sets (with a body) or removes (without) the settings override of a channel that has spoken, over the
 * admin API. A long window holds a batch open while the browser types, however slowly a loaded machine
 * lets it; removing it re-times the window to the configured length, and it closes as a window.
 */
async function override(gwUrl: string, channelKey: string, settings?: Record<string, number>): Promise<void> {
  const res = await fetch(`${gwUrl}/api/v1/channels/${encodeURIComponent(channelKey)}/settings`, {
    method: settings ? 'PUT' : 'DELETE',
    ...(settings ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) } : {}),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

const LONG_WINDOW = { windowMs: 60_000, maxWaitMs: 120_000 };

const botTexts = (page: Page) => page.locator('[data-testid="message-bot"] [data-testid="message-text"]').allInnerTexts();

describe('web chat through `npm start` (the way a newcomer runs it)', () => {
  it('three quick messages → one reply with all three in order; the collecting state shows; a reload keeps the channel', async () => {
    // The shipped default config, as `npm start` reads it; only the port is free-picked.
    const gw = await spawnGateway({ config: 'config/default.yaml', via: 'npm', env: { BATCHGATE_CONFIG: 'config/default.yaml' } });
    const context = await browser.newContext({ viewport: { width: 390, height: 780 } });
    const page = await context.newPage();
    const offHost: string[] = [];
    page.on('request', (r) => {
      const host = new URL(r.url()).hostname;
      if (host !== '127.0.0.1' && host !== 'localhost') offHost.push(r.url());
    });
    await page.goto(`${gw.url}/`);
    const channelKey = await channelKeyOf(page);
    // A first exchange makes the channel known to the gateway, so the next burst can be held open.
    await send(page, 'hi');
    await expect.poll(() => botTexts(page), { timeout: 15_000 }).toEqual(['1 message from You: hi']);
    await override(gw.url, channelKey, LONG_WINDOW);

    await send(page, 'hey');
    await send(page, 'quick question');
    await send(page, 'the deploy failed, logs below');
    // The window is open: the page says so and counts down.
    await expect.poll(() => page.getByTestId('status').innerText(), { timeout: 15_000 }).toMatch(/collecting… \d+\.\d s · 3 messages/);
    // Back to config/default.yaml's 1.5 s for web:*, which has passed since the last message: it closes.
    await override(gw.url, channelKey);

    await expect.poll(() => botTexts(page), { timeout: 15_000 }).toHaveLength(2);
    expect((await botTexts(page))[1]).toBe('3 messages from You: hey / quick question / the deploy failed, logs below');
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/web-chat-npm-start.png', fullPage: true });

    await page.reload();
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
    await send(page, 'after reload');
    await expect.poll(() => botTexts(page), { timeout: 15_000 }).toContain('1 message from You: after reload');
    // The gateway saw both batches on the same channel key.
    expect(await channelKeyOf(page)).toBe(channelKey);
    const res = await fetch(`${gw.url}/api/v1/channels/${encodeURIComponent(channelKey)}`);
    expect(res.status).toBe(200);
    const stats = (await res.json()) as { counters: { received: number; batches: number } };
    expect(stats.counters).toMatchObject({ received: 5, batches: 3 });
    expect(offHost).toEqual([]);
    await context.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
  });

  it('a message sent while the bot is processing lands in the next batch and gets its own reply', async () => {
    const gwDir = await import('node:os').then((os) => os.tmpdir());
    const botFile = path.join(gwDir, `held-bot-${process.pid}-${Date.now()}.mjs`);
    const goFile = `${botFile}.go`;
    onTestFinished(() => rm(goFile, { force: true }).then(() => rm(botFile, { force: true })));
    // Holds every batch until the test creates the go file, so the test can type while the first is in flight.
    await writeFile(
      botFile,
      `import { existsSync } from 'node:fs';\n` +
        `export default async function (batch, ctx) {\n` +
        `  while (!existsSync(${JSON.stringify(goFile)})) await new Promise((r) => setTimeout(r, 50));\n` +
        `  await ctx.reply('bot got: ' + batch.messages.map((m) => m.text).join(' + '));\n}\n`,
    );
    const gw = await spawnGateway({
      config: {
        http: { host: '127.0.0.1', port: 0 },
        // The first two seal by size whatever the typing pace; the third gets a short window below.
        batching: { defaults: { ...LONG_WINDOW, maxBatchSize: 2 } },
        processor: { type: 'module', path: botFile },
        adapters: { web: { enabled: true }, webhook: { enabled: false } },
      },
    });
    const page = await browser.newPage();
    await page.goto(`${gw.url}/`);
    const channelKey = await channelKeyOf(page);
    const stats = async () => (await (await fetch(`${gw.url}/api/v1/channels/${encodeURIComponent(channelKey)}`)).json()) as { pending: number; queuedBatches: number; processing: boolean };
    await send(page, 'first');
    await send(page, 'second');
    // The typing indicator shows while the batch is processed.
    await expect.poll(() => page.getByTestId('typing').isVisible(), { timeout: 15_000 }).toBe(true);
    await override(gw.url, channelKey, { windowMs: 400 });
    await send(page, 'third, while busy');
    // Its own window closed while the first batch is still held: it waits as the next batch.
    await expect.poll(async () => await stats(), { timeout: 15_000 }).toMatchObject({ processing: true, pending: 0, queuedBatches: 1 });
    await writeFile(goFile, '');
    await expect.poll(() => botTexts(page), { timeout: 20_000 }).toEqual(['bot got: first + second', 'bot got: third, while busy']);
    await page.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
  });
});

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');

    await send(page, 'hey');
    await send(page, 'quick question');
    await send(page, 'the deploy failed, logs below');
    // The window (1.5 s for web:* in config/default.yaml) is open: the page says so and counts down.
    await expect.poll(() => page.getByTestId('status').innerText(), { timeout: 5_000 }).toMatch(/collecting… \d+\.\d s · 3 messages/);

    await expect.poll(() => botTexts(page), { timeout: 15_000 }).toHaveLength(1);
    expect((await botTexts(page))[0]).toBe('3 messages from You: hey / quick question / the deploy failed, logs below');
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/web-chat-npm-start.png', fullPage: true });

    const channelId = await page.evaluate(() => Object.entries(localStorage).find(([, v]) => /^[A-Za-z0-9_-]{8,}$/.test(String(v)))?.[1]);
    expect(channelId).toBeTruthy();
    await page.reload();
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
    await send(page, 'after reload');
    await expect.poll(() => botTexts(page), { timeout: 15_000 }).toContain('1 message from You: after reload');
    // The gateway saw both batches on the same channel key.
    const res = await fetch(`${gw.url}/api/v1/channels/${encodeURIComponent(`web:${String(channelId)}`)}`);
    expect(res.status).toBe(200);
    const stats = (await res.json()) as { counters: { received: number; batches: number } };
    expect(stats.counters).toMatchObject({ received: 4, batches: 2 });
    expect(offHost).toEqual([]);
    await context.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
  });

  it('a message sent while the bot is processing lands in the next batch and gets its own reply', async () => {
    const gwDir = await import('node:os').then((os) => os.tmpdir());
    const botFile = path.join(gwDir, `slow-bot-${process.pid}-${Date.now()}.mjs`);
    // Processes slowly, so the test can type while the first batch is in flight.
    await writeFile(
      botFile,
      `export default async function (batch, ctx) {\n` +
        `  await new Promise((r) => setTimeout(r, 2500));\n` +
        `  await ctx.reply('bot got: ' + batch.messages.map((m) => m.text).join(' + '));\n}\n`,
    );
    const gw = await spawnGateway({
      config: {
        http: { host: '127.0.0.1', port: 0 },
        batching: { defaults: { windowMs: 400 } },
        processor: { type: 'module', path: botFile },
        adapters: { web: { enabled: true }, webhook: { enabled: false } },
      },
    });
    const page = await browser.newPage();
    await page.goto(`${gw.url}/`);
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
    await send(page, 'first');
    await send(page, 'second');
    // The typing indicator shows while the batch is processed.
    await expect.poll(() => page.getByTestId('typing').isVisible(), { timeout: 5_000 }).toBe(true);
    await send(page, 'third, while busy');
    await expect.poll(() => botTexts(page), { timeout: 20_000 }).toEqual(['bot got: first + second', 'bot got: third, while busy']);
    await page.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
  });
});

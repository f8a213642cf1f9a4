import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { MessageBatch } from '../../src/core/model.js';
import { createGateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import { launchBrowser } from '../helpers/chromium.js';
import { tempState } from '../helpers/temp-state.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** The real gateway with the web chat on, and a processor that records batches and names the files it got. */
async function start(maxAttachmentBytes = 1_024) {
  const batches: MessageBatch[] = [];
  const config = parseConfig(
    { http: { port: 0 }, state: tempState(), batching: { defaults: { windowMs: 300 } }, adapters: { web: { enabled: true, maxAttachmentBytes }, webhook: { enabled: false } } },
    {},
  );
  const gateway = createGateway({
    config,
    logger: silentLogger(),
    processor: async (batch, ctx) => {
      batches.push(batch);
      const files = batch.messages.flatMap((m) => (m.extra.attachments as Array<{ name: string }> | undefined) ?? []).map((f) => f.name);
      await ctx.reply(`texts: ${batch.messages.map((m) => m.text).join(' / ')}; files: ${files.join(', ') || 'none'}`);
    },
  });
  onTestFinished(async () => {
    await gateway.close();
  });
  await gateway.start();
  const page = await browser.newPage();
  onTestFinished(() => page.close());
  await page.goto(`${gateway.url}/`);
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-kind') !== 'offline');
  return { batches, page };
}

const botTexts = (page: Page) => page.locator('[data-testid="message-bot"] [data-testid="message-text"]').allInnerTexts();

describe('web chat: attach a file', () => {
  it('a small file is read in the page and reaches the bot as a data URL attachment with its name, type and size', async () => {
    const { batches, page } = await start();
    const content = Buffer.from('line one\nline two\n');
    await page.getByTestId('attach').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: content });
    await expect.poll(() => page.getByTestId('attachment-name').innerText()).toBe('📎 notes.txt (18 B)');
    await page.getByTestId('composer').fill('see the file');
    await page.getByTestId('send').click();

    await expect.poll(() => botTexts(page), { timeout: 10_000 }).toEqual(['texts: see the file; files: notes.txt']);
    expect(batches[0]!.messages[0]!.extra.attachments).toEqual([
      { url: `data:text/plain;base64,${content.toString('base64')}`, name: 'notes.txt', type: 'text/plain', size: content.length },
    ]);
    expect(await page.locator('[data-testid="message-user"] [data-testid="message-file"]').allInnerTexts()).toEqual(['📎 notes.txt (18 B)']);
    expect(await page.getByTestId('attachment-chip').isHidden()).toBe(true);

    // A file alone, no text, is a message too.
    await page.getByTestId('attach').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) });
    await page.getByTestId('send').click();
    await expect.poll(() => botTexts(page), { timeout: 10_000 }).toHaveLength(2);
    expect((await botTexts(page))[1]).toBe('texts: ; files: dot.png');
  });

  it('a file over the limit is refused in the page and nothing is sent', async () => {
    const { batches, page } = await start(1_024);
    await page.getByTestId('attach').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(2_048, 1) });
    await expect.poll(() => page.getByTestId('status').innerText()).toContain('Files can be at most 1.0 KB; big.bin is 2.0 KB.');
    expect(await page.getByTestId('attachment-chip').isHidden()).toBe(true);
    await page.getByTestId('composer').fill('just text');
    await page.getByTestId('send').click();
    await expect.poll(() => botTexts(page), { timeout: 10_000 }).toEqual(['texts: just text; files: none']);
    expect(batches.flatMap((b) => b.messages.map((m) => m.extra))).toEqual([{}]);
  });
});

import { describe, expect, it, onTestFinished } from 'vitest';
import { QueueEventType } from '../../src/core/events.js';
import { launchBrowser } from '../helpers/chromium.js';
import { startGateway, until } from '../integration/admin/harness.js';

describe('dashboard: a channel row opens its decision timeline (Chromium)', { timeout: 90_000 }, () => {
  it('shows the entries with their reasons, holds as typing or content holds', async () => {
    const { gw, chat, processor } = await startGateway({ batching: { defaults: { windowMs: 600_000, maxBatchSize: 2 } } });
    await chat.say('support', 'my order is late');
    await chat.say('support', 'order #4411');
    await processor.started(1);
    await until(async () => (await gw.timeline.read('chat:support', 10)).some((e) => e.type === 'completed'), 10_000, 'the batch to complete');
    // The hold decisions themselves are made elsewhere; their entries are recorded from the events they report.
    await chat.say('held', 'logs below:');
    const opened = (await gw.timeline.read('chat:held', 10))[0]!;
    gw.timeline.record({ type: QueueEventType.Held, channelKey: 'chat:held', at: Date.now(), batchId: opened.batchId!, reason: 'typing', deadline: Date.now() + 10_000 });
    gw.timeline.record({ type: QueueEventType.Held, channelKey: 'chat:held', at: Date.now(), batchId: opened.batchId!, reason: 'trailingColon', deadline: Date.now() + 15_000 });

    const browser = await launchBrowser();
    onTestFinished(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${gw.url}/dashboard`);

    await page.locator('tr[data-key="chat:support"] td.key').click();
    const support = page.locator('tr.timeline-row[data-timeline="chat:support"] table.timeline');
    await support.waitFor({ timeout: 15_000 });
    await expect.poll(() => support.locator('tr td.type').allTextContents(), { timeout: 10_000 }).toEqual(['opened', 'appended', 'sealed', 'started', 'completed']);
    expect(await support.locator('tr.tl-sealed td.reason').textContent()).toBe('size');

    await page.locator('tr[data-key="chat:held"] td.key').click();
    const held = page.locator('tr.timeline-row[data-timeline="chat:held"] table.timeline');
    await held.waitFor({ timeout: 15_000 });
    await expect.poll(() => held.locator('tr.tl-held td.reason').allTextContents(), { timeout: 10_000 }).toEqual(['typing hold', 'content hold: trailingColon']);

    // Clicking the row again closes its timeline.
    await page.locator('tr[data-key="chat:support"] td.key').click();
    await support.waitFor({ state: 'detached', timeout: 10_000 });
    expect(pageErrors).toEqual([]);
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../helpers/chromium.js';

describe('launchBrowser', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it('starts the system Chromium headless and renders a page', async () => {
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.setContent('<p id="x">hello</p>');
    expect(await page.textContent('#x')).toBe('hello');
    expect(browser.version()).toMatch(/^\d+\./);
  });
});

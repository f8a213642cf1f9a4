import { chromium, type Browser } from 'playwright-core';

/** The system Chromium the tests drive; playwright's own browser downloads are never used. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a quiet, loopback-only headless Chromium on a shared CI box: no GPU process, no background
 * fetches (component updates, sync, field trials) that would send traffic off the machine, no QUIC probing.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches the system Chromium headless through playwright-core and returns the Browser; the caller
 * closes it (register `onTestFinished(() => browser.close())` or an `afterAll` right away).
 *
 * Every launch gets a fresh temporary profile: playwright creates a new `--user-data-dir` under the OS
 * temp directory for each `launch()` and deletes it on `close()`. Passing `--user-data-dir` ourselves is
 * refused by playwright (it points to `launchPersistentContext`, which returns a context, not a Browser),
 * so the flag is deliberately left to it. Nothing global is registered here.
 */
export async function launchBrowser(options: { args?: readonly string[]; timeoutMs?: number } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    timeout: options.timeoutMs ?? 30_000,
  });
}

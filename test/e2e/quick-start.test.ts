import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { spawnGateway } from '../helpers/spawn-gateway.js';

const run = promisify(execFile);

/** The shell block that follows "Try the webhook from a shell:" in README.md, as a reader copies it. */
async function readmeCurlLoop(): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const block = /Try the webhook from a shell:\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has the webhook curl loop').toBeDefined();
  expect(block).toContain('localhost:8787');
  return block!;
}

describe("README's quick start, against `npm start`", () => {
  it("the webhook curl loop gets three 202s, and the echo bot's one reply for the three shows in the gateway's output", async () => {
    const loop = await readmeCurlLoop();
    // `npm start` with the embedded default (config/default.yaml), on a free port instead of 8787.
    const g = await spawnGateway({ config: 'config/default.yaml', via: 'npm' });
    const { host } = new URL(g.url);

    // Real curl, run by bash exactly as written; only the address changes.
    const { stdout } = await run('bash', ['-c', loop.replaceAll('localhost:8787', host)], { timeout: 20_000 });
    const answers = stdout.trim().split('\n').map((l) => JSON.parse(l) as { accepted: boolean; channelKey: string });
    expect(answers).toHaveLength(3);
    for (const a of answers) expect(a).toMatchObject({ accepted: true, channelKey: 'webhook:room-1' });

    // No replyUrl in the default config: the reply is printed at the default level (info), not sent.
    const line = await g.waitForLog(/webhook reply \(no replyUrl/, 30_000);
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 30,
      channelKey: 'webhook:room-1',
      batchSize: 3,
      text: '3 messages from ana: hey / quick question / the deploy failed',
    });
    expect(await g.stop()).toBe(0);
  }, 90_000);
});

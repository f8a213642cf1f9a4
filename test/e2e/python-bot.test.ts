import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parse } from 'yaml';
import { startReplySink } from '../helpers/reply-sink.js';
import { spawnGateway } from '../helpers/spawn-gateway.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/python-bot/', import.meta.url));

/** Runs examples/python-bot/bot.py on a free port; resolves with its port once it says where it listens. */
async function startPythonBot(env: Record<string, string> = {}): Promise<{ port: number; exited: Promise<number | null>; log: () => string }> {
  const child = spawn('python3', [`${EXAMPLE}bot.py`], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bot.py did not start: ${stderr}`)), 20_000);
    void exited.then((code) => reject(new Error(`bot.py exited ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on http:\/\/[^:]+:(\d+)\//.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    });
  });
  return { port, exited, log: () => stderr };
}

describe('examples/python-bot through `npm start`', () => {
  it('three webhook messages → the Python bot answers once → one reply at replyUrl; SIGTERM exits 0', async () => {
    const replies = await startReplySink();
    onTestFinished(() => replies.close());
    const bot = await startPythonBot();

    // The example's own config, as shipped (processor url from BOT_PORT), pointed at the sink and a temp spool.
    const config = parse(await readFile(`${EXAMPLE}batchgate.yaml`, 'utf8')) as Record<string, any>;
    config['adapters']['webhook']['replyUrl'] = replies.url;
    // The three messages seal by size under a long window, however slowly the POSTs reach the child.
    Object.assign(config['batching']['defaults'], { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 3 });
    const gw = await spawnGateway({ config, via: 'npm', env: { BOT_PORT: String(bot.port) } });
    expect(gw.logs.join('\n')).toContain('processor: http');

    const texts = ['hi', 'are you there?', 'I have a question'];
    for (const [i, text] of texts.entries()) {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channelId: 'py-room', userId: 'u1', userName: 'Ann', text, id: `py-${i + 1}` }),
      });
      expect(res.status).toBe(202);
    }

    const [reply] = await replies.waitFor(1, 20_000);
    expect(reply!.body).toEqual({
      channelId: 'py-room',
      text: 'Ann: you sent 3 messages: hi; are you there?; I have a question',
      batchId: expect.any(String),
      inReplyTo: ['py-1', 'py-2', 'py-3'],
    });

    expect(await gw.stop('SIGTERM')).toBe(0);
    expect(replies.requests).toHaveLength(1);
    const done = gw.jsonLogs().find((l) => String(l['msg']).startsWith('shutdown complete'));
    expect(done).toMatchObject({ journaled: 0, lost: 0 });
    // The bot served exactly one batch (its access log goes to stderr).
    expect(bot.log().match(/"POST \/ HTTP\/1\.1" 200/g)).toHaveLength(1);
  });

  it('steer mode: a line sent while the bot works is taken over steerUrl between its two steps; one answer', async () => {
    const replies = await startReplySink();
    onTestFinished(() => replies.close());
    // The take between the steps waits (pushed, not polled) until the second line is offered.
    const bot = await startPythonBot({ BOT_STEER_WAIT_MS: '60000' });
    const config = parse(await readFile(`${EXAMPLE}batchgate.yaml`, 'utf8')) as Record<string, any>;
    config['adapters']['webhook']['replyUrl'] = replies.url;
    Object.assign(config['batching']['defaults'], { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 1, mode: 'steer' });
    const gw = await spawnGateway({ config, via: 'npm', env: { BOT_PORT: String(bot.port) } });
    for (const [i, text] of ['check prod', 'also check staging'].entries()) {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channelId: 'py-steer', userId: 'u1', userName: 'Ann', text, id: `st-${i + 1}` }),
      });
      expect(res.status).toBe(202);
    }
    const [reply] = await replies.waitFor(1, 60_000);
    expect(reply!.body).toMatchObject({ channelId: 'py-steer', text: 'Ann: you sent 2 messages: check prod; also check staging', inReplyTo: ['st-1', 'st-2'] });
    expect(await gw.stop('SIGTERM')).toBe(0);
    expect(replies.requests).toHaveLength(1);
    expect(bot.log().match(/"POST \/ HTTP\/1\.1" 200/g)).toHaveLength(1);
  });
});

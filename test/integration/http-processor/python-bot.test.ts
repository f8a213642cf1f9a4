import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { signatureHeaders, signatureOf } from '../../../src/delivery/signature.js';
import { MessageBatch } from '../../../src/core/model.js';
import { createHttpProcessor } from '../../../src/processors/http.js';
import { batchOf, contextFor, message } from './harness.js';

const BOT = fileURLToPath(new URL('../../../examples/python-bot/bot.py', import.meta.url));

/** Starts the example bot on a free port and returns its URL (from the line it prints). */
async function startBot(env: Record<string, string> = {}): Promise<string> {
  const child = spawn('python3', [BOT], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const lines = createInterface({ input: child.stdout });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bot did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`bot exited ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

describe('examples/python-bot behind the HTTP processor', () => {
  it('answers a batch with one summary reply', async () => {
    const url = await startBot();
    const batch = batchOf('room-1', ['hi', 'are you there?', 'I have a question']);
    const { ctx, replies } = contextFor(batch);
    await createHttpProcessor({ url, timeoutMs: 10_000 })(batch, ctx);
    expect(replies).toEqual([{ text: 'Ann: you sent 3 messages: hi; are you there?; I have a question' }]);
  });

  it('names every author of a mixed batch', async () => {
    const url = await startBot();
    const batch = new MessageBatch('webhook:room-2', { messages: [message('room-2', 'hello', 'u1', 'Ann'), message('room-2', 'hey', 'u2', 'Bob')] });
    const { ctx, replies } = contextFor(batch);
    await createHttpProcessor({ url, timeoutMs: 10_000 })(batch, ctx);
    expect(replies).toEqual([{ text: 'Ann, Bob: you sent 2 messages: hello; hey' }]);
  });

  it('with BOT_SECRET: a signed request is answered, a wrongly signed one fails the batch with 401', async () => {
    const url = await startBot({ BOT_SECRET: 'py-secret' });
    const batch = batchOf('room-3', ['one']);
    const good = contextFor(batch);
    await createHttpProcessor({ url, timeoutMs: 10_000, secret: 'py-secret' })(batch, good.ctx);
    expect(good.replies).toEqual([{ text: 'Ann: you sent 1 message: one' }]);

    const bad = contextFor(batch);
    const err = await createHttpProcessor({ url, timeoutMs: 10_000, secret: 'wrong', attempts: 3 })(batch, bad.ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).details['status']).toBe(401);
    expect(bad.replies).toEqual([]);
  });

  it('with BOT_SECRET: refuses a stale timestamp and the old unversioned signature (401 naming what is wrong)', async () => {
    const url = await startBot({ BOT_SECRET: 'py-secret' });
    const body = JSON.stringify({ batch: { messages: [] }, attempt: 1 });
    const post = async (headers: Record<string, string>) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      return { status: res.status, error: ((await res.json()) as { error: string }).error };
    };
    const stale = Math.floor(Date.now() / 1_000) - 301;
    expect(await post({ 'x-batchgate-timestamp': String(stale), 'x-batchgate-signature': signatureOf('py-secret', stale, body) })).toEqual({ status: 401, error: 'missing or stale X-Batchgate-Timestamp' });
    expect(await post({ 'x-batchgate-signature': signatureOf('py-secret', stale, body) })).toMatchObject({ status: 401 });
    const old = `sha256=${createHmac('sha256', 'py-secret').update(body).digest('hex')}`;
    expect(await post({ ...signatureHeaders('py-secret', body), 'x-batchgate-signature': old })).toEqual({ status: 401, error: 'bad X-Batchgate-Signature' });
    // The same request signed now is answered (204: no messages, no reply).
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...signatureHeaders('py-secret', body) }, body })).status).toBe(204);
  });
});

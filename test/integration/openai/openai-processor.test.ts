import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import { EditingAdapter } from '../../helpers/editing-adapter.js';
import { FakeStream, startFakeOpenAi, type FakeOpenAi } from '../../fakes/openai/index.js';

let fake: FakeOpenAi;
beforeAll(async () => {
  // Every event is written in two pieces split mid-line: the client must buffer SSE lines.
  fake = await startFakeOpenAi({ fragment: true });
});
afterAll(async () => {
  await fake?.close();
});

async function startGateway(processor: Record<string, unknown> = {}, channels: Array<Record<string, unknown>> = []) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-llm-'));
  const adapter = new EditingAdapter();
  const gateway = createGateway({
    config: parseConfig(
      {
        http: { port: 0 },
        batching: { defaults: { windowMs: 50, maxBatchSize: 2 }, channels },
        state: { spoolPath: path.join(dir, 'spool.jsonl') },
        processor: { type: 'openai', baseUrl: fake.baseUrl, apiKey: 'sk-test', model: 'fake-model', system: 'Answer briefly.', stream: false, ...processor },
      },
      {},
    ),
    logger: silentLogger(),
    adapters: [adapter],
    baseDir: dir,
  });
  onTestFinished(() => gateway.close().then(() => undefined));
  await gateway.start();
  const admin = (method: string, route: string) => fetch(`${gateway.url}${route}`, { method }).then((r) => r.json() as Promise<any>);
  return { gateway, adapter, admin };
}

/** The requests this test made (the fake is shared by the file). */
function requestsFrom(start: number) {
  return fake.requests.slice(start);
}

describe('openai processor against a fake OpenAI-compatible server', () => {
  it('a batch is one request: system prompt, the channel history, then the batch as one user turn with author lines', async () => {
    // The pair seals by size under a long window, however slowly the machine accepts it; then a short one.
    const { gateway, adapter } = await startGateway({}, [{ match: 'test:room', windowMs: 60_000, maxWaitMs: 120_000 }]);
    const first = fake.requests.length;
    await adapter.accept('room', 'is the deploy done?', undefined, 'Ana');
    await adapter.accept('room', 'and the migration?', undefined, 'Bo');
    await adapter.until(() => adapter.sent.length === 1);
    expect(adapter.sent[0]!.text).toBe('echo: Ana: is the deploy done?\nBo: and the migration?');
    await gateway.queue.setSettings('test:room', { windowMs: 50 });

    await adapter.accept('room', 'thanks', undefined, 'Ana');
    await adapter.until(() => adapter.sent.length === 2);
    const [one, two] = requestsFrom(first);
    expect(one!.headers.authorization).toBe('Bearer sk-test');
    expect(one!.body).toMatchObject({ model: 'fake-model', stream: false });
    expect(one!.body.messages).toEqual([
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Ana: is the deploy done?\nBo: and the migration?' },
    ]);
    // One author: plain lines, no prefix; the previous exchange comes first.
    expect(two!.body.messages).toEqual([
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Ana: is the deploy done?\nBo: and the migration?' },
      { role: 'assistant', content: 'echo: Ana: is the deploy done?\nBo: and the migration?' },
      { role: 'user', content: 'thanks' },
    ]);
  });

  it('history is per channel, keeps the last historyTurns turns, and the channel clear forgets it', async () => {
    const { adapter, admin } = await startGateway({ historyTurns: 2 });
    const first = fake.requests.length;
    for (const [room, text] of [['a', 'a1'], ['b', 'b1'], ['a', 'a2']] as const) {
      const n = adapter.sent.length;
      await adapter.accept(room, text);
      await adapter.until(() => adapter.sent.length === n + 1);
    }
    const lastA = requestsFrom(first).at(-1)!.body.messages.slice(1);
    expect(lastA).toEqual([
      { role: 'user', content: 'a1' },
      { role: 'assistant', content: 'echo: a1' },
      { role: 'user', content: 'a2' },
    ]);
    expect(await admin('DELETE', `/api/v1/channels/${encodeURIComponent('test:a')}/queue`)).toEqual({ removed: 0 });
    for (const [room, text] of [['a', 'a3'], ['b', 'b2']] as const) {
      const n = adapter.sent.length;
      await adapter.accept(room, text);
      await adapter.until(() => adapter.sent.length === n + 1);
    }
    const [afterClearA, b2] = requestsFrom(first).slice(-2).map((r) => r.body.messages.slice(1));
    expect(afterClearA).toEqual([{ role: 'user', content: 'a3' }]);
    // historyTurns: 2 keeps one exchange; b's was not cleared.
    expect(b2).toEqual([
      { role: 'user', content: 'b1' },
      { role: 'assistant', content: 'echo: b1' },
      { role: 'user', content: 'b2' },
    ]);
  });

  it('a 429 with Retry-After is waited out, then the answer is published', async () => {
    const { adapter } = await startGateway();
    const first = fake.requests.length;
    fake.enqueue({ type: 'error', status: 429, message: 'Rate limit reached for requests', errorType: 'requests', code: 'rate_limit_exceeded', retryAfter: '1' }, { type: 'json', content: 'after the wait' });
    await adapter.accept('room', 'hello');
    await adapter.until(() => adapter.sent.length === 1);
    expect(adapter.sent[0]!.text).toBe('after the wait');
    const [limited, retried] = requestsFrom(first);
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(1_000);
  });

  it('a 5xx answer is retried, and the answer after it is published once', async () => {
    const { adapter } = await startGateway();
    const first = fake.requests.length;
    fake.enqueue({ type: 'error', status: 503, message: 'The server is overloaded', errorType: 'server_error' }, { type: 'json', content: 'after the retry' });
    await adapter.accept('room', 'hello');
    await adapter.until(() => adapter.sent.length === 1);
    expect(adapter.sent.map((r) => r.text)).toEqual(['after the retry']);
    expect(requestsFrom(first)).toHaveLength(2);
  });

  it('an error answer fails the batch into the dead letters, naming the endpoint error; token usage is in the metrics', async () => {
    const { gateway, adapter, admin } = await startGateway();
    fake.enqueue({ type: 'error', status: 401, message: 'Incorrect API key provided', errorType: 'invalid_request_error', code: 'invalid_api_key' });
    await adapter.accept('room', 'hello');
    await adapter.until(() => adapter.events.some((e) => e.type === 'batch.failed'));
    const { deadLetters } = await admin('GET', '/api/v1/dead-letters');
    expect(deadLetters[0].error).toContain('401 (invalid_api_key): Incorrect API key provided');
    expect(adapter.sent).toHaveLength(0);

    fake.enqueue({ type: 'json', content: 'ok', usage: { prompt: 30, completion: 4 } });
    await adapter.accept('room', 'again');
    await adapter.until(() => adapter.sent.length === 1);
    const metrics = await fetch(`${gateway.url}/metrics`).then((r) => r.text());
    expect(metrics).toContain('batchgate_llm_tokens_total{kind="prompt",model="fake-model"} 30');
    expect(metrics).toContain('batchgate_llm_tokens_total{kind="completion",model="fake-model"} 4');
  });

  it('streams: the answer grows in one message, edits at most once a second, and the full answer joins the history', async () => {
    const { adapter } = await startGateway({ stream: true });
    const first = fake.requests.length;
    const stream = new FakeStream({ prompt: 5, completion: 3 });
    fake.enqueue({ type: 'stream', stream });
    await adapter.accept('room', 'tell me');
    await stream.opened;
    stream.push('Once ');
    await adapter.until(() => adapter.calls.length === 1);
    stream.push('upon ');
    stream.push('a time');
    await adapter.until(() => adapter.calls.length === 2);
    stream.push(', the end. Ünïcode ✓');
    stream.end();
    await adapter.until(() => adapter.calls.at(-1)?.text === 'Once upon a time, the end. Ünïcode ✓');
    expect(adapter.calls[0]).toMatchObject({ kind: 'post', text: 'Once ' });
    expect(adapter.calls.slice(1).every((c) => c.kind === 'edit' && c.messageId === adapter.calls[0]!.messageId)).toBe(true);
    for (let i = 1; i < adapter.calls.length; i++) expect(adapter.calls[i]!.at - adapter.calls[i - 1]!.at).toBeGreaterThanOrEqual(1_000);
    expect(adapter.sent).toHaveLength(0); // no separate message
    expect(requestsFrom(first)[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });

    fake.enqueue({ type: 'json', content: 'second' });
    await adapter.accept('room', 'more');
    await adapter.until(() => adapter.calls.at(-1)?.text === 'second');
    expect(requestsFrom(first)[1]!.body.messages.slice(1, 3)).toEqual([
      { role: 'user', content: 'tell me' },
      { role: 'assistant', content: 'Once upon a time, the end. Ünïcode ✓' },
    ]);
  });

  it('cancel mid-stream closes the connection to the server; the partial answer stays, marked as stopped, and nothing joins the history', async () => {
    const { adapter, admin } = await startGateway({ stream: true });
    const first = fake.requests.length;
    const stream = new FakeStream();
    fake.enqueue({ type: 'stream', stream });
    await adapter.accept('room', 'write an essay');
    await stream.opened;
    stream.push('The first');
    await adapter.until(() => adapter.calls.length === 1);
    expect(await admin('POST', `/api/v1/channels/${encodeURIComponent('test:room')}/cancel`)).toEqual({ cancelled: true });
    await stream.closedEarly;
    await adapter.until(() => adapter.calls.length === 2);
    expect(adapter.calls[1]).toMatchObject({ kind: 'edit', text: 'The first … (stopped)' });
    stream.push(' paragraph'); // the socket is gone: never shown

    await adapter.accept('room', 'never mind');
    await adapter.until(() => adapter.calls.at(-1)?.text === 'echo: never mind');
    expect(requestsFrom(first)[1]!.body.messages.slice(1)).toEqual([{ role: 'user', content: 'never mind' }]);
    expect([...adapter.shown.values()]).toEqual(['The first … (stopped)', 'echo: never mind']);
  });
});

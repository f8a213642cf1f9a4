import { pino } from 'pino';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { QueueEvent } from '../../src/core/events.js';
import { createGateway } from '../../src/gateway.js';
import type { Processor } from '../../src/processors/processor.js';
import { tempState } from '../helpers/temp-state.js';

/** The real gateway with its webhook adapter: edits and deletes over HTTP, batches seen by the processor. */
async function startGateway() {
  const batches: string[][] = [];
  const processor: Processor = async (batch) => {
    batches.push(batch.messages.map((m) => m.text));
  };
  const config = parseConfig(
    {
      http: { port: 0 },
      state: tempState(),
      batching: { defaults: { windowMs: 60_000, maxWaitMs: 120_000 } },
      adapters: { web: { enabled: false }, webhook: { enabled: true } },
    },
    {},
  );
  const gateway = createGateway({ config, logger: pino({ level: 'silent' }), processor });
  onTestFinished(() => gateway.close().then(() => undefined));
  await gateway.start();
  const events: QueueEvent[] = [];
  gateway.queue.on((e) => void events.push(e));
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gateway.url}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { gateway, batches, events, call };
}

describe('webhook edits and deletes', () => {
  it('PATCH and DELETE /v1/messages/:id change a waiting message and answer where it was', async () => {
    const { gateway, batches, call } = await startGateway();
    for (const [id, text] of [['w1', 'shipit tomorow'], ['w2', 'forget this'], ['w3', 'ok']]) {
      expect((await call('POST', '/v1/messages', { id, channelId: 'room', userId: 'u1', text })).status).toBe(202);
    }
    expect(await call('PATCH', '/v1/messages/w1', { channelId: 'room', text: 'ship it tomorrow' })).toEqual({ status: 200, body: { applied: 'pending' } });
    expect(await call('DELETE', '/v1/messages/w2?channelId=room')).toEqual({ status: 200, body: { applied: 'pending' } });
    expect(await call('PATCH', '/v1/messages/nope', { channelId: 'room', text: 'x' })).toEqual({ status: 200, body: { applied: 'unknown' } });
    await gateway.queue.flush('webhook:room');
    await vi.waitFor(() => expect(batches).toHaveLength(1), { timeout: 10_000, interval: 20 });
    expect(batches).toEqual([['ship it tomorrow', 'ok']]);
    await vi.waitFor(async () => expect(await call('PATCH', '/v1/messages/w3', { channelId: 'room', text: 'okay' })).toEqual({ status: 200, body: { applied: 'done' } }), { timeout: 10_000, interval: 20 });
  });

  it('answers 400 naming the field when channelId or text is missing', async () => {
    const { call } = await startGateway();
    const patch = await call('PATCH', '/v1/messages/w1', { text: 'x' });
    expect(patch.status).toBe(400);
    expect(patch.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['channelId']);
    const noText = await call('PATCH', '/v1/messages/w1', { channelId: 'room' });
    expect(noText.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['text']);
    const del = await call('DELETE', '/v1/messages/w1');
    expect(del.status).toBe(400);
    expect(del.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['channelId']);
  });
});

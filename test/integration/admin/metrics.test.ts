import { describe, expect, it } from 'vitest';
import { api, key, startGateway, until } from './harness.js';
import type { Gateway } from '../../../src/gateway.js';

/** Parses Prometheus text into `name{labels}` → value (labels as written, sorted by prom-client). */
async function scrape(gw: Gateway): Promise<Map<string, number>> {
  const res = await fetch(`${gw.url}/metrics`);
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('GET /metrics', () => {
  it('exposes every documented batchgate series and the default process metrics', async () => {
    const { gw } = await startGateway();
    const m = await scrape(gw);
    for (const name of [
      'batchgate_batch_size_count',
      'batchgate_flush_lateness_seconds_count',
      'batchgate_batch_wait_seconds_count',
      'batchgate_in_flight',
      'batchgate_queue_depth{state="pending"}',
      'batchgate_running_batches',
      'batchgate_max_concurrent_batches',
      'batchgate_channels_over_warn',
      'batchgate_cancelled_total{reason="cancel"}',
      'batchgate_dropped_total{reason="overflow"}',
      'batchgate_processor_errors_total{kind="error"}',
      'batchgate_replies_sent_total{platform="chat"}',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(m.has(name), name).toBe(true);
    }
    expect(m.get('batchgate_max_concurrent_batches')).toBe(32);
  });

  it('counters move as messages, batches, cancels and drops happen', async () => {
    const { gw, chat, processor } = await startGateway({
      manual: true,
      batching: { defaults: { windowMs: 30, maxBatchSize: 2, maxQueuedBatches: 1, overflow: 'drop-oldest' } },
    });
    const before = await scrape(gw);
    expect(before.get('batchgate_messages_received_total{platform="chat"}') ?? 0).toBe(0);

    await chat.say('m', 'a');
    const first = await processor.started(1);
    const during = await scrape(gw);
    expect(during.get('batchgate_in_flight')).toBe(1);
    expect(during.get('batchgate_running_batches')).toBe(1);

    // Two more full batches while one is in flight and only one may wait: the older waiting one is dropped.
    // They seal by size under a long window however slowly the messages arrive; then the 30 ms default is back.
    await api(gw, 'PUT', `/api/v1/channels/${key('m')}/settings`, { windowMs: 60_000 });
    for (const text of ['b', 'c', 'd', 'e']) await chat.say('m', text);
    await api(gw, 'DELETE', `/api/v1/channels/${key('m')}/settings`);
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('m')}`)).body.counters.dropped === 2);
    expect((await api(gw, 'POST', `/api/v1/channels/${key('m')}/cancel`)).body.cancelled).toBe(true);
    expect(first.abortedAt).toBeDefined();
    const second = await processor.started(2);
    expect(second.texts).toEqual(['d', 'e']);
    // Injected while d+e runs, so nothing waits and nothing more overflows.
    await api(gw, 'POST', `/api/v1/channels/${key('m')}/messages`, { text: 'injected' });
    second.release();
    const third = await processor.started(3);
    third.release();
    await until(() => chat.sent.length === 2);

    const after = await scrape(gw);
    expect(after.get('batchgate_messages_received_total{platform="chat"}')).toBe(6);
    expect(after.get('batchgate_batches_flushed_total{reason="window"}')).toBe(2); // 'a', then 'injected'
    expect(after.get('batchgate_batches_flushed_total{reason="size"}')).toBe(2); // b+c, d+e
    expect(after.get('batchgate_batch_size_count')).toBe(4);
    expect(after.get('batchgate_batch_size_sum')).toBe(6);
    expect(after.get('batchgate_batch_size_bucket{le="1"}')).toBe(2);
    expect(after.get('batchgate_batch_size_bucket{le="2"}')).toBe(4);
    expect(after.get('batchgate_flush_lateness_seconds_count')).toBe(2);
    expect(after.get('batchgate_cancelled_total{reason="cancel"}')).toBe(1);
    expect(after.get('batchgate_dropped_total{reason="overflow"}')).toBe(2);
    expect(after.get('batchgate_processing_seconds_count{outcome="cancelled"}')).toBe(1);
    expect(after.get('batchgate_processing_seconds_count{outcome="completed"}')).toBe(2);
    expect(after.get('batchgate_replies_sent_total{platform="chat"}')).toBe(2);
    expect(after.get('batchgate_replies_dropped_total{reason="cancelled"}')).toBe(1); // the cancelled batch's late reply
    expect(after.get('batchgate_in_flight')).toBe(0);

    // Clearing counts as a drop too.
    await api(gw, 'PUT', `/api/v1/channels/${key('m')}/settings`, { windowMs: 60_000, maxWaitMs: 120_000 });
    await chat.say('m', 'x');
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('m')}`)).body.pending === 1);
    expect((await scrape(gw)).get('batchgate_queue_depth{state="pending"}')).toBe(1);
    expect((await api(gw, 'DELETE', `/api/v1/channels/${key('m')}/queue`)).body.removed).toBe(1);
    expect((await scrape(gw)).get('batchgate_dropped_total{reason="cleared"}')).toBe(1);
  });

  it('counts processor errors and keeps two gateways in one process apart', async () => {
    const failing = async () => {
      throw new Error('model overloaded');
    };
    const a = await startGateway({ processor: failing });
    const b = await startGateway();
    await a.chat.say('x', 'boom');
    await until(async () => (await scrape(a.gw)).get('batchgate_processor_errors_total{kind="error"}') === 1);
    const other = await scrape(b.gw);
    expect(other.get('batchgate_processor_errors_total{kind="error"}')).toBe(0);
    expect(other.get('batchgate_messages_received_total{platform="chat"}') ?? 0).toBe(0);
  });
  it('counts holds by reason, typing signals, and keyword flushes', async () => {
    const { gw, chat, processor } = await startGateway({
      batching: { defaults: { windowMs: 5_000, maxWaitMs: 600_000, flushOn: ['ship it'] } },
    });
    const before = await scrape(gw);
    expect(before.get('batchgate_holds_total{reason="trailingColon"}')).toBe(0);
    expect(before.get('batchgate_typing_signals_total{held="true"}') ?? 0).toBe(0);
    await chat.say('h', 'logs below:');
    expect(await gw.queue.typing('chat:h', 'u1')).toMatchObject({ held: true });
    expect(await gw.queue.typing('chat:h', 'someone-else')).toEqual({ held: false });
    await chat.say('h', 'ok ship it');
    (await processor.started(1)).release();
    const after = await scrape(gw);
    expect(after.get('batchgate_holds_total{reason="trailingColon"}')).toBe(1);
    expect(after.get('batchgate_holds_total{reason="typing"}')).toBe(0); // the 15 s content hold already ends later than the 10 s typing hold
    expect(after.get('batchgate_typing_signals_total{held="true"}')).toBe(1);
    expect(after.get('batchgate_typing_signals_total{held="false"}')).toBe(1);
    expect(after.get('batchgate_batches_flushed_total{reason="keyword"}')).toBe(1);
  });
});

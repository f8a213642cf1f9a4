import { afterEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { captureLogger, deferred, settle } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('backpressure', () => {
  it('a full queue makes send wait writeTimeoutMs, then drop with a counter and a warning', async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const channel = new Channel<number>({ name: 'replies', logger, queueSize: 2, writeTimeoutMs: 500 });
    const gate = deferred();
    const got: number[] = [];
    const consumer = channel.newConsumer(
      async (n) => {
        await gate.promise;
        got.push(n);
      },
      { name: 'discord' },
    );
    const producer = channel.internalProducer;
    await producer.send(0); // taken by the callback at once
    await settle();
    expect(await producer.send(1)).toBe(1);
    expect(await producer.send(2)).toBe(1);
    expect(consumer.stats()).toMatchObject({ depth: 2, waiting: 0 });

    let outcome: number | undefined;
    const blocked = producer.send(3).then((n) => (outcome = n));
    await settle();
    expect(outcome).toBeUndefined();
    expect(consumer.stats().waiting).toBe(1);

    await vi.advanceTimersByTimeAsync(499);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2);
    await blocked;
    expect(outcome).toBe(0);
    expect(consumer.stats()).toMatchObject({ dropped: 1, waiting: 0, depth: 2 });
    const warning = lines.find((l) => l.msg === 'bus item dropped');
    expect(warning).toMatchObject({ level: 40, channel: 'replies', consumer: 'discord', dropped: 1, queueSize: 2, writeTimeoutMs: 500 });
    expect(vi.getTimerCount()).toBe(0);

    gate.resolve();
    await channel.stop();
    expect(got).toEqual([0, 1, 2]);
  });

  it('a send waiting for room is admitted in order when the consumer catches up before the timeout', async () => {
    vi.useFakeTimers();
    const channel = new Channel<number>({ queueSize: 1, writeTimeoutMs: 1_000 });
    const gates = Array.from({ length: 4 }, () => deferred());
    const got: number[] = [];
    const consumer = channel.newConsumer(async (n) => {
      await gates[n]!.promise;
      got.push(n);
    });
    const producer = channel.internalProducer;
    await producer.send(0);
    await settle();
    await producer.send(1);
    const results: Array<Promise<number>> = [producer.send(2), producer.send(3)];
    expect(consumer.stats()).toMatchObject({ depth: 1, waiting: 2 });
    expect(vi.getTimerCount()).toBe(1); // one timer for the consumer, not one per waiting send

    for (const gate of gates) {
      gate.resolve();
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(await Promise.all(results)).toEqual([1, 1]);
    await channel.stop();
    expect(got).toEqual([0, 1, 2, 3]);
    expect(consumer.stats()).toMatchObject({ delivered: 4, dropped: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('while a send waits, a later send queues behind it instead of overtaking', async () => {
    vi.useFakeTimers();
    const channel = new Channel<string>({ queueSize: 1, writeTimeoutMs: 1_000 });
    const gate = deferred();
    const got: string[] = [];
    channel.newConsumer(async (s) => {
      if (s === 'first') await gate.promise;
      got.push(s);
    });
    const producer = channel.internalProducer;
    await producer.send('first');
    await settle();
    await producer.send('second');
    const third = producer.send('third'); // waits
    gate.resolve();
    await settle();
    const fourth = producer.send('fourth'); // room may exist now, but 'third' is ahead
    await vi.advanceTimersByTimeAsync(10);
    await Promise.all([third, fourth]);
    await channel.stop();
    expect(got).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('a slow consumer delays only the sends that reach it, and only up to the timeout', async () => {
    vi.useFakeTimers();
    const channel = new Channel<number>({ queueSize: 1, writeTimeoutMs: 200, queryOf: (n) => ({ parity: n % 2 === 0 ? 'even' : 'odd' }) });
    const fastGot: number[] = [];
    const stuck = channel.newConsumer(() => new Promise<void>(() => {}), { filters: { parity: 'even' } });
    channel.newConsumer((n) => void fastGot.push(n), { filters: { parity: 'odd' } });
    const producer = channel.internalProducer;
    await producer.send(0);
    await settle();
    await producer.send(2);
    const results = [producer.send(4), producer.send(1), producer.send(3)];
    await settle();
    expect(fastGot).toEqual([1, 3]);
    await vi.advanceTimersByTimeAsync(201);
    expect(await Promise.all(results)).toEqual([0, 1, 1]);
    expect(stuck.stats()).toMatchObject({ dropped: 1, depth: 1 });
    await channel.stop({ signal: AbortSignal.abort() });
  });

  it('writeTimeoutMs 0 drops at once without a timer; per-consumer settings override the channel', async () => {
    vi.useFakeTimers();
    const channel = new Channel<number>({ queueSize: 100, writeTimeoutMs: 5_000 });
    const consumer = channel.newConsumer(() => new Promise<void>(() => {}), { queueSize: 1, writeTimeoutMs: 0 });
    await channel.internalProducer.send(0);
    await settle();
    await channel.internalProducer.send(1);
    expect(await channel.internalProducer.send(2)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(consumer.stats()).toMatchObject({ dropped: 1, depth: 1 });
    await channel.stop({ signal: AbortSignal.abort() });
  });

  it('unsubscribing releases waiting sends at once (resolving 0) and clears the timer', async () => {
    vi.useFakeTimers();
    const channel = new Channel<number>({ queueSize: 1, writeTimeoutMs: 60_000 });
    const gate = deferred();
    const consumer = channel.newConsumer(() => gate.promise);
    await channel.internalProducer.send(0);
    await settle();
    await channel.internalProducer.send(1);
    const waiting = channel.internalProducer.send(2);
    expect(vi.getTimerCount()).toBe(1);
    const left = consumer.unsubscribe();
    expect(await waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    gate.resolve();
    await left;
    expect(consumer.stats()).toMatchObject({ delivered: 1, dropped: 2 });
    await channel.stop();
  });
});

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Channel, defaultChannelName } from '../../../src/bus/channel.js';
import { Producer } from '../../../src/bus/producer.js';
import { Consumer } from '../../../src/bus/consumer.js';
import { LifecycleError } from '../../../src/errors.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { deferred, settle } from './helpers.js';

function reply(platform: string, text: string): OutboundMessage {
  return { platform, channelId: 'c1', text, batchId: 'b1', inReplyTo: ['m1'] };
}

describe('channel naming', () => {
  it('defaults to the class name without the Channel suffix', () => {
    class RepliesChannel extends Channel<OutboundMessage> {}
    class Events extends Channel<string> {}
    expect(new RepliesChannel().name).toBe('Replies');
    expect(new Events().name).toBe('Events');
    expect(new Channel<string>().name).toBe('Channel');
    expect(defaultChannelName('QueueEventsChannel')).toBe('QueueEvents');
  });

  it('is overridable by option or by getter', () => {
    class RepliesChannel extends Channel<OutboundMessage> {
      override get name(): string {
        return 'replies';
      }
    }
    expect(new RepliesChannel().name).toBe('replies');
    expect(new Channel<string>({ name: 'events' }).name).toBe('events');
  });
});

describe('delivery', () => {
  it('routes replies by platform through queryOf, each consumer in send order', async () => {
    const channel = new Channel<OutboundMessage>({ name: 'replies', queryOf: (r) => ({ platform: r.platform }) });
    const got: Record<string, string[]> = { discord: [], slack: [] };
    channel.newConsumer(async (r) => void got.discord!.push(r.text), { filters: { platform: 'discord' } });
    channel.newConsumer(async (r) => void got.slack!.push(r.text), { filters: { platform: 'slack' } });
    const producer = channel.internalProducer;

    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      counts.push(await producer.send(reply('discord', `d${i}`)));
      counts.push(await producer.send(reply('slack', `s${i}`)));
    }
    expect(await producer.send(reply('web', 'nobody'))).toBe(0);
    await channel.stop();
    expect(counts).toEqual(Array(10).fill(1));
    expect(got.discord).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect(got.slack).toEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('an explicit query wins over queryOf; no query and no queryOf reaches everyone', async () => {
    const routed = new Channel<OutboundMessage>({ queryOf: (r) => ({ platform: r.platform }) });
    const seen: string[] = [];
    routed.newConsumer((r) => void seen.push(`discord:${r.text}`), { filters: { platform: 'discord' } });
    routed.newConsumer((r) => void seen.push(`slack:${r.text}`), { filters: { platform: 'slack' } });
    expect(await routed.internalProducer.send(reply('discord', 'x'), { platform: 'slack' })).toBe(1);
    await routed.stop();
    expect(seen).toEqual(['slack:x']);

    const broadcast = new Channel<string>();
    const all: string[] = [];
    broadcast.newConsumer((s) => void all.push(`a:${s}`), { filters: { platform: 'discord' } });
    broadcast.newConsumer((s) => void all.push(`b:${s}`));
    expect(await broadcast.internalProducer.send('hi')).toBe(2);
    await broadcast.stop();
    expect(all.sort()).toEqual(['a:hi', 'b:hi']);
  });

  it('callbacks never run inside send: they start on a later microtask', async () => {
    const channel = new Channel<number>();
    const calls: number[] = [];
    channel.newConsumer((n) => void calls.push(n));
    const sent = channel.internalProducer.send(1);
    expect(calls).toEqual([]);
    await sent;
    await settle();
    expect(calls).toEqual([1]);
    await channel.stop();
  });

  it('a callback may return anything: a thenable is awaited before the next item, other values are not', async () => {
    const channel = new Channel<number>();
    const order: string[] = [];
    const gate = deferred();
    const values = [null, 7, 'x', { then: (resolve: () => void) => void gate.promise.then(resolve) }, undefined];
    const consumer = channel.newConsumer(((n: number) => {
      order.push(`start ${n}`);
      return values[n];
    }) as (n: number) => void);
    for (let n = 0; n < values.length; n++) channel.internalProducer.write(n);
    await settle();
    expect(order).toEqual(['start 0', 'start 1', 'start 2', 'start 3']); // held by the thenable
    gate.resolve();
    await channel.stop();
    expect(order).toEqual(['start 0', 'start 1', 'start 2', 'start 3', 'start 4']);
    expect(consumer.stats()).toMatchObject({ delivered: 5, errors: 0 });
  });

  it('a consumer handles one item at a time even when its callback is slow', async () => {
    const channel = new Channel<number>();
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const consumer = channel.newConsumer(async (n) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gates[n]!.promise;
      order.push(n);
      running--;
    });
    for (const n of [0, 1, 2]) await channel.internalProducer.send(n);
    await settle();
    expect(consumer.stats()).toMatchObject({ depth: 2, delivered: 0 });
    expect(consumer.isPerforming).toBe(true);
    gates[2]!.resolve();
    gates[1]!.resolve();
    gates[0]!.resolve();
    await channel.stop();
    expect(order).toEqual([0, 1, 2]);
    expect(maxRunning).toBe(1);
    expect(consumer.stats()).toMatchObject({ delivered: 3, depth: 0, dropped: 0, errors: 0 });
  });
});

describe('internal producer', () => {
  it('is created lazily, once, and stopped with the channel', async () => {
    let created = 0;
    class CountingChannel extends Channel<string> {
      protected override createProducer(): Producer<string> {
        created++;
        return super.createProducer();
      }
    }
    const channel = new CountingChannel();
    expect(created).toBe(0);
    const producer = channel.internalProducer;
    expect(channel.internalProducer).toBe(producer);
    expect(created).toBe(1);
    expect(channel.producers).toEqual([]);
    await channel.stop();
    expect(producer.isStopped).toBe(true);
    await expect(producer.send('late')).rejects.toBeInstanceOf(LifecycleError);
  });
});

describe('push', () => {
  it('is the overridable entry point that may transform or gate before send', async () => {
    class TrimmingProducer extends Producer<OutboundMessage> {
      override push(data: OutboundMessage): Promise<number> {
        if (data.text.trim() === '') return Promise.resolve(0);
        return this.send({ ...data, text: data.text.trim() });
      }
    }
    const channel = new Channel<OutboundMessage>();
    const texts: string[] = [];
    channel.newConsumer((r) => void texts.push(r.text));
    const producer = channel.registerProducer(new TrimmingProducer(channel));
    expect(await producer.push(reply('web', '  hello  '))).toBe(1);
    expect(await producer.push(reply('web', '   '))).toBe(0);
    await channel.stop();
    expect(texts).toEqual(['hello']);
  });
});

describe('lifecycle', () => {
  it('stop stops producers (registered, then internal) before consumers, and is idempotent', async () => {
    const events: string[] = [];
    class LoggingProducer extends Producer<string> {
      constructor(channel: Channel<string>, readonly label: string) {
        super(channel);
      }
      override async stop(): Promise<void> {
        events.push(`producer ${this.label} stop`);
        await super.stop();
      }
    }
    class LoggingConsumer extends Consumer<string> {
      override stop(): Promise<void> {
        events.push(`consumer ${this.name} stop`);
        return super.stop();
      }
    }
    const channel = new Channel<string>();
    channel.addConsumer(new LoggingConsumer(() => {}, { name: 'c1' }));
    channel.registerProducer(new LoggingProducer(channel, 'p1'));
    channel.addConsumer(new LoggingConsumer(() => {}, { name: 'c2' }));
    channel.registerProducer(new LoggingProducer(channel, 'p2'));
    const internal = channel.internalProducer;

    const first = channel.stop();
    const second = channel.stop();
    expect(second).toBe(first);
    await first;
    await channel.stop();
    expect(events).toEqual(['producer p1 stop', 'producer p2 stop', 'consumer c1 stop', 'consumer c2 stop']);
    expect(internal.isStopped).toBe(true);
    expect(channel.isStopped).toBe(true);
  });

  it('stop lets consumers perform what they already queued', async () => {
    const channel = new Channel<number>();
    const gate = deferred();
    const done: number[] = [];
    channel.newConsumer(async (n) => {
      await gate.promise;
      done.push(n);
    });
    for (let i = 0; i < 4; i++) await channel.internalProducer.send(i);
    const stopped = channel.stop();
    gate.resolve();
    await stopped;
    expect(done).toEqual([0, 1, 2, 3]);
  });

  it('stop with an aborted signal gives up on a hung consumer and counts what it discards', async () => {
    const channel = new Channel<number>();
    const consumer = channel.newConsumer(() => new Promise<void>(() => {}));
    for (let i = 0; i < 3; i++) await channel.internalProducer.send(i);
    await settle();
    const controller = new AbortController();
    const stopped = channel.stop({ signal: controller.signal });
    controller.abort();
    await stopped;
    expect(consumer.stats()).toMatchObject({ dropped: 2, depth: 0 });
  });

  it('start runs producers start hooks once; after stop, start rejects and registration throws', async () => {
    let starts = 0;
    class Poller extends Producer<string> {
      override start(): void {
        starts++;
      }
    }
    const channel = new Channel<string>();
    channel.registerProducer(new Poller(channel));
    await Promise.all([channel.start(), channel.start()]);
    expect(starts).toBe(1);
    expect(channel.isStarted).toBe(true);
    channel.registerProducer(new Poller(channel));
    expect(starts).toBe(2);
    await channel.stop();
    await expect(channel.start()).rejects.toBeInstanceOf(LifecycleError);
    expect(() => channel.newConsumer(() => {})).toThrow(LifecycleError);
    expect(() => channel.registerProducer(new Poller(channel))).toThrow(LifecycleError);
  });

  it('a consumer registers on one channel only', () => {
    const a = new Channel<string>();
    const b = new Channel<string>();
    const consumer = a.addConsumer(new Consumer<string>(() => {}));
    expect(() => b.addConsumer(consumer)).toThrow(LifecycleError);
  });

  it('rejects queue settings that could block a producer forever', () => {
    expect(() => new Channel<string>({ queueSize: 0 })).toThrow(/queueSize/);
    expect(() => new Channel<string>({ writeTimeoutMs: Infinity })).toThrow(/writeTimeoutMs/);
    expect(() => new Consumer<string>(() => {}, { queueSize: 1.5 })).toThrow(/queueSize/);
  });
});

describe('unsubscribe', () => {
  it('unsubscribe() removes the consumer; it gets nothing more', async () => {
    const channel = new Channel<number>();
    const got: number[] = [];
    const consumer = channel.newConsumer((n) => void got.push(n));
    await channel.internalProducer.send(1);
    await settle();
    await consumer.unsubscribe();
    expect(await channel.internalProducer.send(2)).toBe(0);
    expect(channel.consumers).toEqual([]);
    expect(got).toEqual([1]);
    expect(consumer.isStopped).toBe(true);
    expect(consumer.isLooping).toBe(false);
    await channel.stop();
  });

  it('aborting the registration signal unsubscribes', async () => {
    const channel = new Channel<number>();
    const controller = new AbortController();
    const got: number[] = [];
    const consumer = channel.newConsumer((n) => void got.push(n), { signal: controller.signal });
    expect(await channel.internalProducer.send(1)).toBe(1);
    await settle();
    controller.abort();
    expect(channel.consumers).not.toContain(consumer);
    expect(await channel.internalProducer.send(2)).toBe(0);
    await settle();
    expect(got).toEqual([1]);
    expect(consumer.isStopped).toBe(true);
    await channel.stop();
  });

  it('leaves no abort listener behind once unsubscribed, stopped, or refused', async () => {
    const channel = new Channel<number>();
    const controller = new AbortController();
    const a = channel.newConsumer(() => {}, { signal: controller.signal });
    channel.newConsumer(() => {}, { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(2);
    await a.unsubscribe();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    expect(() => new Channel<number>().addConsumer(a, { signal: controller.signal })).toThrow(LifecycleError);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await channel.stop();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('an already aborted signal registers nothing', async () => {
    const channel = new Channel<number>();
    const consumer = channel.newConsumer(() => {}, { signal: AbortSignal.abort() });
    expect(channel.consumers).toEqual([]);
    expect(consumer.isStopped).toBe(true);
    expect(await channel.internalProducer.send(1)).toBe(0);
    await channel.stop();
  });

  it('unsubscribing discards what was queued and counts it as dropped', async () => {
    const channel = new Channel<number>();
    const gate = deferred();
    const consumer = channel.newConsumer(() => gate.promise);
    for (let i = 0; i < 3; i++) await channel.internalProducer.send(i);
    await settle();
    const left = consumer.unsubscribe();
    gate.resolve();
    await left;
    expect(consumer.stats()).toMatchObject({ delivered: 1, dropped: 2, depth: 0 });
    await channel.stop();
  });
});

describe('write (sync fast path)', () => {
  it('returns the count synchronously while queues have room, a promise when one is full, and throws after stop', async () => {
    const channel = new Channel<number>({ queueSize: 2, writeTimeoutMs: 5_000 });
    const gate = deferred();
    const got: number[] = [];
    channel.newConsumer(async (n) => {
      await gate.promise;
      got.push(n);
    });
    const producer = channel.internalProducer;
    expect(producer.write(0)).toBe(1);
    expect(producer.write(1)).toBe(1);
    const third = producer.write(2);
    expect(third).toBeInstanceOf(Promise);
    gate.resolve();
    expect(await third).toBe(1);
    await channel.stop();
    expect(got).toEqual([0, 1, 2]);
    expect(() => producer.write(3)).toThrow(LifecycleError);
  });

  it('stats() gives every consumer its counters for metrics', async () => {
    const channel = new Channel<number>({ name: 'events' });
    channel.newConsumer(() => {}, { name: 'metrics' });
    channel.newConsumer(() => Promise.reject(new Error('x')), { name: 'sse' });
    await channel.internalProducer.send(1);
    await channel.stop();
    expect(channel.stats()).toEqual([
      { name: 'metrics', priority: 'HIGH', delivered: 1, dropped: 0, errors: 0, depth: 0, waiting: 0 },
      { name: 'sse', priority: 'HIGH', delivered: 0, dropped: 0, errors: 1, depth: 0, waiting: 0 },
    ]);
  });
});

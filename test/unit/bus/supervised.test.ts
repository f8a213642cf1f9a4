import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { InternalConsumer } from '../../../src/bus/internal-consumer.js';
import { SupervisedConsumer } from '../../../src/bus/supervised-consumer.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { deferred, settle } from './helpers.js';

describe('SupervisedConsumer', () => {
  it('exposes whether perform runs, and idle settles only once the queue is worked off', async () => {
    const channel = new Channel<number>();
    const gates = [deferred(), deferred()];
    const done: number[] = [];
    const consumer = channel.addConsumer(
      new SupervisedConsumer<number>(async (n) => {
        await gates[n]!.promise;
        done.push(n);
      }),
    );
    expect(consumer.performing).toBe(false);
    let idleAt: number[] | undefined;
    await consumer.idle; // idle from the start

    await channel.internalProducer.send(0);
    await channel.internalProducer.send(1);
    await settle();
    expect(consumer.performing).toBe(true);
    const idle = consumer.idle.then(() => {
      idleAt = [...done];
    });
    gates[0]!.resolve();
    await settle();
    expect(done).toEqual([0]);
    expect(idleAt).toBeUndefined(); // item 1 still to do
    gates[1]!.resolve();
    await idle;
    expect(idleAt).toEqual([0, 1]);
    expect(consumer.performing).toBe(false);
    await channel.stop();
  });

  it('lets a producer wait for its consumers to finish (waitForProcessing)', async () => {
    const channel = new Channel<number>();
    const seen: number[] = [];
    for (let c = 0; c < 3; c++) {
      channel.addConsumer(
        new SupervisedConsumer<number>(async (n) => {
          await new Promise((resolve) => setImmediate(resolve));
          seen.push(n);
        }),
      );
    }
    const producer = channel.internalProducer;
    for (let i = 0; i < 5; i++) await producer.send(i);
    await producer.waitForProcessing();
    expect(seen).toHaveLength(15);
    await channel.stop();
  });

  it('idle settles when the consumer stops, even with a hung callback given up on', async () => {
    const channel = new Channel<number>();
    const consumer = channel.addConsumer(new SupervisedConsumer<number>(() => new Promise<void>(() => {})));
    await channel.internalProducer.send(1);
    await settle();
    const idle = consumer.idle;
    await channel.stop({ signal: AbortSignal.abort() });
    await expect(idle).resolves.toBeUndefined();
  });
});

describe('InternalConsumer', () => {
  it('uses the callback declared on the class and its own state', async () => {
    class ReplyCounter extends InternalConsumer<OutboundMessage> {
      readonly byChannel = new Map<string, number>();
      protected internalCallback(reply: OutboundMessage): void {
        this.byChannel.set(reply.channelId, (this.byChannel.get(reply.channelId) ?? 0) + 1);
      }
    }
    const channel = new Channel<OutboundMessage>({ name: 'replies', queryOf: (r) => ({ platform: r.platform }) });
    const counter = channel.addConsumer(new ReplyCounter({ name: 'counter' }), { filters: { platform: 'web' } });
    const base = { platform: 'web', text: 't', batchId: 'b', inReplyTo: [] };
    await channel.internalProducer.send({ ...base, channelId: 'a' });
    await channel.internalProducer.send({ ...base, channelId: 'a' });
    await channel.internalProducer.send({ ...base, channelId: 'b' });
    await channel.internalProducer.send({ ...base, platform: 'slack', channelId: 'a' });
    await channel.stop();
    expect(Object.fromEntries(counter.byChannel)).toEqual({ a: 2, b: 1 });
    expect(counter.stats()).toMatchObject({ name: 'counter', delivered: 3 });
  });
});

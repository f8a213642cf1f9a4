import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { deferred, settle } from './helpers.js';

describe('Consumer.idle', () => {
  it('is settled while idle, and otherwise settles once the queue is worked off, not at each item', async () => {
    const channel = new Channel<number>();
    const gates = [deferred(), deferred(), deferred()];
    const done: number[] = [];
    const consumer = channel.newConsumer(async (n) => {
      await gates[n]!.promise;
      done.push(n);
    });
    await consumer.idle;
    for (const n of [0, 1, 2]) await channel.internalProducer.send(n);
    let idleAfter: number[] | undefined;
    const idle = consumer.idle.then(() => (idleAfter = [...done]));
    expect(consumer.idle).toBe(consumer.idle); // one promise for every waiter
    gates[0]!.resolve();
    gates[1]!.resolve();
    await settle();
    expect(idleAfter).toBeUndefined();
    gates[2]!.resolve();
    await idle;
    expect(idleAfter).toEqual([0, 1, 2]);
    await channel.stop();
  });

  it('settles when the consumer is unsubscribed with items still queued', async () => {
    const channel = new Channel<number>();
    const gate = deferred();
    const consumer = channel.newConsumer(() => gate.promise);
    await channel.internalProducer.send(1);
    await channel.internalProducer.send(2);
    await settle();
    const idle = consumer.idle;
    const left = consumer.unsubscribe();
    gate.resolve();
    await left;
    await expect(idle).resolves.toBeUndefined();
    expect(consumer.stats()).toMatchObject({ delivered: 1, dropped: 1 });
  });
});

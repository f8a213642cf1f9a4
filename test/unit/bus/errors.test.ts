import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { captureLogger, settle } from './helpers.js';

describe('a throwing consumer', () => {
  it('is logged and counted, and neither the producer nor the other consumers notice', async () => {
    const { logger, lines } = captureLogger();
    const channel = new Channel<number>({ name: 'events', logger });
    const healthy: number[] = [];
    const asyncThrower = channel.newConsumer(
      async (n) => {
        if (n % 2 === 0) throw new Error(`async boom ${n}`);
      },
      { name: 'async-thrower' },
    );
    const syncThrower = channel.newConsumer(
      (n) => {
        if (n === 1) throw new Error('sync boom');
      },
      { name: 'sync-thrower' },
    );
    channel.newConsumer(async (n) => void healthy.push(n), { name: 'healthy' });

    const counts: number[] = [];
    for (let i = 0; i < 4; i++) counts.push(await channel.internalProducer.send(i));
    await channel.stop();

    expect(counts).toEqual([3, 3, 3, 3]);
    expect(healthy).toEqual([0, 1, 2, 3]);
    expect(asyncThrower.stats()).toMatchObject({ delivered: 2, errors: 2 });
    expect(syncThrower.stats()).toMatchObject({ delivered: 3, errors: 1 });
    const errors = lines.filter((l) => l.msg === 'bus consumer callback failed');
    expect(errors.map((l) => [l.consumer, (l.err as { message: string }).message])).toEqual([
      ['async-thrower', 'async boom 0'],
      ['sync-thrower', 'sync boom'],
      ['async-thrower', 'async boom 2'],
    ]);
    expect(errors.every((l) => l.level === 50 && l.channel === 'events')).toBe(true);
  });

  it('keeps consuming after a failure', async () => {
    const channel = new Channel<number>();
    const got: number[] = [];
    channel.newConsumer(async (n) => {
      if (n === 0) throw new Error('first fails');
      got.push(n);
    });
    await channel.internalProducer.send(0);
    await channel.internalProducer.send(1);
    await settle();
    expect(got).toEqual([1]);
    await channel.stop();
  });
});

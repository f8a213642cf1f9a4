import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { Priority } from '../../../src/bus/priority.js';
import { SupervisedConsumer } from '../../../src/bus/supervised-consumer.js';
import { captureLogger } from './helpers.js';

/** Timers and other handles alive in this process, by kind. */
function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('synchronized mode', () => {
  it('delivers in exact priority order (HIGH, MEDIUM, OPTIONAL) within the awaited send, with no loop or timer', async () => {
    const before = handleCounts();
    const channel = new Channel<number>({ synchronized: true, queueSize: 4, writeTimeoutMs: 50 });
    const log: string[] = [];
    const record = (name: string) => async (n: number): Promise<void> => {
      await Promise.resolve();
      log.push(`${name}:${n}`);
    };
    // Registered in reverse priority order on purpose: drain order must come from priority.
    const consumers = [
      channel.newConsumer(record('optional'), { priority: Priority.OPTIONAL }),
      channel.newConsumer(record('medium'), { priority: Priority.MEDIUM }),
      channel.newConsumer(record('high-a'), { priority: Priority.HIGH }),
      channel.newConsumer(record('high-b'), { priority: Priority.HIGH }),
    ];

    expect(await channel.internalProducer.send(1)).toBe(4);
    // Everything happened inside the awaited send.
    expect(log).toEqual(['high-a:1', 'high-b:1', 'medium:1', 'optional:1']);
    await channel.internalProducer.send(2);
    expect(log.slice(4)).toEqual(['high-a:2', 'high-b:2', 'medium:2', 'optional:2']);

    expect(consumers.every((c) => !c.isLooping)).toBe(true);
    expect(handleCounts()).toEqual(before);
    await channel.stop();
  });

  it('a send from inside a callback is drained by the running drain, still in priority order', async () => {
    const channel = new Channel<string>({ synchronized: true });
    const log: string[] = [];
    channel.newConsumer(
      async (s) => {
        log.push(`optional:${s}`);
      },
      { priority: Priority.OPTIONAL },
    );
    channel.newConsumer(async (s) => {
      log.push(`high:${s}`);
      if (s === 'a') await channel.internalProducer.send('b');
    });
    await channel.internalProducer.send('a');
    expect(log).toEqual(['high:a', 'high:b', 'optional:a', 'optional:b']);
    await channel.stop();
  });

  it('synchronizedPerformConsumersQueue(level) drains only that level and above', async () => {
    const channel = new Channel<number>({ synchronized: true });
    const log: string[] = [];
    const high = channel.newConsumer((n) => void log.push(`high:${n}`));
    const optional = channel.newConsumer((n) => void log.push(`optional:${n}`), { priority: Priority.OPTIONAL });
    // Queue directly, as a producer doing its own scheduling would, then drain by level.
    high.offer(1);
    optional.offer(1);
    const producer = channel.internalProducer;
    expect(producer.isConsumersQueueEmpty(Priority.HIGH)).toBe(false);
    await producer.synchronizedPerformConsumersQueue(Priority.HIGH);
    expect(log).toEqual(['high:1']);
    expect(producer.isConsumersQueueEmpty(Priority.HIGH)).toBe(true);
    expect(producer.isConsumersQueueEmpty(Priority.OPTIONAL)).toBe(false);
    await producer.synchronizedPerformConsumersQueue(Priority.OPTIONAL);
    expect(log).toEqual(['high:1', 'optional:1']);
    await channel.stop();
  });

  it('a full queue during a re-entrant drain drops at once (no timer) and counts it', async () => {
    const { logger, lines } = captureLogger();
    const channel = new Channel<number>({ synchronized: true, queueSize: 1, logger });
    const slow = channel.newConsumer(() => {}, { priority: Priority.OPTIONAL, name: 'slow' });
    channel.newConsumer(async (n) => {
      if (n === 0) {
        await channel.internalProducer.send(1);
        await channel.internalProducer.send(2);
      }
    });
    await channel.internalProducer.send(0);
    // `slow` still held item 0 (HIGH drains first) when 1 and 2 arrived: both dropped, nothing waited.
    expect(slow.stats()).toMatchObject({ delivered: 1, dropped: 2, waiting: 0 });
    expect(lines.some((l) => l.msg === 'bus item dropped' && l.consumer === 'slow')).toBe(true);
    await channel.stop();
  });

  it('SupervisedConsumer works without a loop too', async () => {
    const channel = new Channel<number>({ synchronized: true });
    const consumer = channel.addConsumer(new SupervisedConsumer<number>(async () => {}));
    await channel.internalProducer.send(1);
    expect(consumer.performing).toBe(false);
    await consumer.idle;
    expect(consumer.stats().delivered).toBe(1);
    await channel.stop();
  });
});

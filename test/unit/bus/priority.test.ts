import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { Producer } from '../../../src/bus/producer.js';
import { Priority } from '../../../src/bus/priority.js';
import type { QueueEvent } from '../../../src/core/events.js';
import { settle } from './helpers.js';

class RecordingProducer extends Producer<string> {
  readonly calls: string[] = [];
  override pause(): void {
    this.calls.push('pause');
  }
  override resume(): void {
    this.calls.push('resume');
  }
}

describe('pause and resume by consumer priority', () => {
  it('starts paused; a HIGH consumer resumes producers, removing it pauses them again', async () => {
    const channel = new Channel<string>();
    const producer = channel.registerProducer(new RecordingProducer(channel));
    expect(channel.isPaused).toBe(true);
    expect(producer.isPaused).toBe(true);

    const high = channel.newConsumer(() => {}, { priority: Priority.HIGH });
    expect(channel.isPaused).toBe(false);
    expect(producer.isPaused).toBe(false);

    await high.unsubscribe();
    expect(channel.isPaused).toBe(true);
    expect(producer.isPaused).toBe(true);
    expect(producer.calls).toEqual(['resume', 'pause']);
    await channel.stop();
  });

  it('OPTIONAL consumers alone never resume; MEDIUM does; the last non-OPTIONAL leaving pauses', async () => {
    const channel = new Channel<string>();
    const producer = channel.registerProducer(new RecordingProducer(channel));
    const trace = (): string => `${channel.isPaused ? 'paused' : 'running'}`;
    const states: string[] = [];

    const metrics = channel.newConsumer(() => {}, { priority: Priority.OPTIONAL });
    const sse = channel.newConsumer(() => {}, { priority: Priority.OPTIONAL });
    states.push(trace());
    const medium = channel.newConsumer(() => {}, { priority: Priority.MEDIUM });
    states.push(trace());
    const high = channel.newConsumer(() => {}, { priority: Priority.HIGH });
    states.push(trace());
    await medium.unsubscribe();
    states.push(trace());
    await high.unsubscribe();
    states.push(trace());
    await metrics.unsubscribe();
    states.push(trace());
    const again = channel.newConsumer(() => {}, { priority: Priority.MEDIUM });
    states.push(trace());
    await again.unsubscribe();
    await sse.unsubscribe();
    states.push(trace());

    expect(states).toEqual(['paused', 'running', 'running', 'running', 'paused', 'paused', 'running', 'paused']);
    // Hooks fire on transitions only, not on every (un)subscribe.
    expect(producer.calls).toEqual(['resume', 'pause', 'resume', 'pause']);
    await channel.stop();
  });

  it('a producer registered on a running channel is resumed at once, and the internal producer follows too', async () => {
    const channel = new Channel<string>();
    const internal = channel.internalProducer;
    expect(internal.isPaused).toBe(true);
    channel.newConsumer(() => {});
    expect(internal.isPaused).toBe(false);
    const late = channel.registerProducer(new RecordingProducer(channel));
    expect(late.isPaused).toBe(false);
    expect(late.calls).toEqual(['resume']);
    await channel.stop();
  });

  it('pause is advisory: a paused events channel still delivers to its OPTIONAL consumers', async () => {
    const events = new Channel<QueueEvent>({ name: 'events' });
    const seen: string[] = [];
    events.newConsumer((e) => void seen.push(e.type), { priority: Priority.OPTIONAL, name: 'metrics' });
    expect(events.isPaused).toBe(true);
    expect(await events.internalProducer.send({ type: 'batch.flushed', channelKey: 'web:1', at: 1, batchId: 'b', size: 1, reason: 'window', deadline: 1, latenessMs: 0 })).toBe(1);
    await settle();
    expect(seen).toEqual(['batch.flushed']);
    await events.stop();
  });

  it('a failing pause hook is logged, not thrown into the unsubscribing caller', async () => {
    class Broken extends Producer<string> {
      override pause(): Promise<void> {
        return Promise.reject(new Error('nope'));
      }
    }
    const channel = new Channel<string>();
    channel.registerProducer(new Broken(channel));
    const consumer = channel.newConsumer(() => {});
    await expect(consumer.unsubscribe()).resolves.toBeUndefined();
    expect(channel.isPaused).toBe(true);
    await channel.stop();
  });
});

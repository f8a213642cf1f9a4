import { MessageQueue } from '../../src/core/message-queue.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { MessageBatch, OutboundMessage } from '../../src/core/model.js';
import { SettingsPolicy, type ChannelSettings, type SettingsPattern } from '../../src/core/policy.js';
import type { ProcessContext } from '../../src/processors/processor.js';
import { FakeTime } from './fake-time.js';

/** One processor call the test can finish or fail by hand. */
export interface ManualRun {
  batch: MessageBatch;
  ctx: ProcessContext;
  texts: string[];
  resolve(): void;
  reject(err: unknown): void;
}

export interface HarnessOptions {
  settings?: Partial<ChannelSettings>;
  patterns?: SettingsPattern[];
  maxConcurrentBatches?: number;
  queueWarnRatio?: number;
  /** With a number, every batch finishes by itself after that many (fake) ms and replies its text. */
  autoProcessMs?: number;
}

/** A MessageQueue on fake time with a processor that records every call. */
export function createHarness(options: HarnessOptions = {}) {
  const time = new FakeTime();
  const runs: ManualRun[] = [];
  const replies: OutboundMessage[] = [];
  const events: QueueEvent[] = [];
  const queue = new MessageQueue({
    processor: (batch, ctx) =>
      new Promise<void>((resolve, reject) => {
        runs.push({ batch, ctx, texts: batch.messages.map((m) => m.text), resolve, reject });
        if (options.autoProcessMs !== undefined) {
          time.setTimeout(() => {
            void ctx.reply(batch.text()).then(() => resolve(), reject);
          }, options.autoProcessMs);
        }
      }),
    onReply: (reply) => {
      replies.push(reply);
    },
    clock: time,
    scheduler: time,
    policy: new SettingsPolicy(options.settings, options.patterns),
    maxConcurrentBatches: options.maxConcurrentBatches,
    queueWarnRatio: options.queueWarnRatio,
  });
  queue.on((e) => events.push(e));
  let n = 0;
  const msg = (channelId: string, text: string, userName = 'Ana') => ({
    id: `m${++n}`,
    platform: 'test',
    channelId,
    userId: `u-${userName}`,
    userName,
    text,
  });
  return {
    time,
    queue,
    runs,
    replies,
    events,
    msg,
    send: (channelId: string, text: string, userName?: string) => queue.enqueue(msg(channelId, text, userName)),
    eventsOf: <T extends QueueEvent['type']>(type: T) => events.filter((e): e is Extract<QueueEvent, { type: T }> => e.type === type),
  };
}

/**
 * S5's added latency with batching, per reply: how much later than an ideal batcher the reply arrived.
 * The ideal batcher flushes the batch the moment its rule says so, computed from the messages' *intended*
 * send times (the open-loop sender's schedule), and its processor answers in exactly PROCESSOR_MS.
 */
import { percentile } from '../lib.js';

export interface BatchRule {
  windowMs: number;
  maxBatchSize: number;
  maxWaitMs: number;
  /** The processor's own time per batch (0 for echo). */
  processorMs: number;
}

/**
 * When an ideal batcher flushes a batch: at its last message if it filled up, else when the quiet window
 * after its last message ends, or its first message is `maxWaitMs` old, whichever comes first. First/last
 * are the earliest/latest intended send times: requests on different sockets may overtake each other.
 */
export function idealFlushAt(firstSent: number, lastSent: number, size: number, rule: BatchRule): number {
  if (size >= rule.maxBatchSize) return lastSent;
  return Math.min(lastSent + rule.windowMs, firstSent + rule.maxWaitMs);
}

/** What the reply receiver collected since the last take. */
export interface ReceivedReplies {
  replies: number;
  /** Distinct message ids answered. */
  messages: number;
  /** Ids answered more than once. */
  duplicates: number;
  /** Reply bodies that could not be read. */
  unreadable: number;
  /** Clock of the last reply's arrival. */
  lastAt: number;
  /** Per reply, `fields` numbers: arrival, earliest intended send, latest intended send, messages answered. */
  records: Float64Array;
  fields: number;
}

export interface AddedLatency {
  /** Sorted, ms, one per reply: arrival − ideal flush − processorMs. */
  added: number[];
  p50: number;
  p99: number;
  max: number;
  /** Mean messages per reply, and the share of replies to a full batch. */
  meanBatch: number;
  fullShare: number;
}

export function addedLatency(got: ReceivedReplies, rule: BatchRule): AddedLatency {
  const added: number[] = [];
  let messages = 0;
  let full = 0;
  for (let i = 0; i < got.records.length; i += got.fields) {
    const [at, first, last, size] = [got.records[i]!, got.records[i + 1]!, got.records[i + 2]!, got.records[i + 3]!];
    added.push(at - idealFlushAt(first, last, size, rule) - rule.processorMs);
    messages += size;
    if (size >= rule.maxBatchSize) full++;
  }
  added.sort((a, b) => a - b);
  const n = added.length;
  return { added, p50: percentile(added, 50), p99: percentile(added, 99), max: added.at(-1) ?? NaN, meanBatch: n ? messages / n : NaN, fullShare: n ? full / n : NaN };
}

/**
 * Every message the gateway accepted is answered in exactly one reply: the distinct ids answered equal the
 * accepted count and none came twice. `atLeast` for closed-loop runs, whose last requests may be accepted
 * after the load generator stopped counting.
 */
export function exactlyOnce(got: ReceivedReplies, accepted: number, atLeast = false): { ok: boolean; text: string } {
  const ok = got.duplicates === 0 && got.unreadable === 0 && (atLeast ? got.messages >= accepted : got.messages === accepted);
  const text = `${got.replies} replies answered ${got.messages}/${accepted} accepted messages, ${got.duplicates} answered twice${got.unreadable ? `, ${got.unreadable} unreadable` : ''}: ${ok ? 'exactly once OK' : 'EXACTLY-ONCE VIOLATED'}`;
  return { ok, text };
}

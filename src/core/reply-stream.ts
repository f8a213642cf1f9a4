import type { Clock, Scheduler, TimerHandle } from './clock.js';

/**
 * How often a streamed reply is republished while it grows. Platforms that edit show each snapshot as an
 * edit of one message, and Discord allows 5 edits per 5 s per channel: once a second stays inside it.
 * @defaultValue 1000
 */
export const STREAM_INTERVAL_MS = 1_000;

/** What {@link pumpReplyStream} needs from the engine running the batch. */
export interface ReplyStreamPort {
  /** Publishes the whole text so far; `final` on the last one. Resolves false once the batch may no longer reply. */
  publish(text: string, final: boolean): Promise<boolean>;
  signal: AbortSignal;
  clock: Clock;
  scheduler: Scheduler;
  /** @defaultValue {@link STREAM_INTERVAL_MS} */
  intervalMs?: number;
}

const ABORTED = Symbol('aborted');

/**
 * Reads a processor's stream of text deltas and publishes snapshots of the text so far: the first delta
 * at once, then at most one snapshot per `intervalMs` (deltas in between coalesce; a trailing timer
 * publishes what a pause left unsent), and always a final one. Resolves true when the final snapshot was
 * published; false when the run aborted (then nothing more is published: the gateway marks what was shown
 * as stopped) or a snapshot was refused. A source that throws rejects, which fails the batch.
 */
export async function pumpReplyStream(source: AsyncIterable<string>, port: ReplyStreamPort): Promise<boolean> {
  const intervalMs = port.intervalMs ?? STREAM_INTERVAL_MS;
  const iterator = source[Symbol.asyncIterator]();
  let text = '';
  let published: string | null = null;
  let lastAt = -Infinity;
  let ok = true;
  let timer: TimerHandle | null = null;
  let tail: Promise<void> = Promise.resolve();
  const disarm = () => {
    if (timer !== null) port.scheduler.clearTimeout(timer);
    timer = null;
  };
  // Snapshots go out one after another, whether the loop or the trailing timer sends them.
  const publish = (final: boolean): Promise<void> => {
    tail = tail.then(async () => {
      if (!ok || port.signal.aborted || (!final && text === published)) return;
      published = text;
      lastAt = port.clock.now();
      ok = await port.publish(text, final);
    });
    return tail;
  };
  const stop = () => {
    disarm();
    // Not awaited: a generator stuck in an await would hold the caller; its own signal ends it.
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
  };
  try {
    for (;;) {
      const next = await nextOrAbort(iterator, port.signal);
      if (next === ABORTED || !ok) {
        stop();
        return false;
      }
      if (next.done) break;
      if (typeof next.value !== 'string') throw new TypeError('a streamed reply yields strings');
      text += next.value;
      const wait = lastAt + intervalMs - port.clock.now();
      if (wait <= 0) {
        disarm();
        await publish(false);
      } else if (timer === null) {
        timer = port.scheduler.setTimeout(() => {
          timer = null;
          void publish(false);
        }, wait);
      }
    }
    disarm();
    await publish(true);
    return ok && !port.signal.aborted;
  } catch (err) {
    stop();
    throw err;
  } finally {
    disarm();
  }
}

function nextOrAbort(iterator: AsyncIterator<string>, signal: AbortSignal): Promise<IteratorResult<string> | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve(ABORTED);
        else reject(err);
      },
    );
  });
}

/** True for what `ctx.reply` treats as a stream of text deltas. */
export function isReplyStream(input: unknown): input is AsyncIterable<string> {
  return typeof input === 'object' && input !== null && typeof (input as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

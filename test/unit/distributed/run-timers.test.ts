import { describe, expect, it } from 'vitest';
import { BatchRun, type RunOutcome, type RunPort } from '../../../src/core/batch-run.js';
import { MessageBatch } from '../../../src/core/model.js';
import { DEFAULT_SETTINGS } from '../../../src/core/policy.js';
import { RunTimers } from '../../../src/distributed/run-timers.js';
import { FakeTime } from '../../helpers/fake-time.js';

/** Runs on a port whose timeouts are a worker's RunTimers, on fake time. */
function setup() {
  const time = new FakeTime(1_000);
  const timers = new RunTimers<null>(time, time);
  const ends: RunOutcome[] = [];
  const port: RunPort<null> = {
    clock: time,
    scheduler: time,
    timeouts: timers,
    logger: undefined,
    listening: () => false,
    emit: () => {},
    deliver: () => {},
    typing: () => {},
    onEnd: (_run, outcome) => ends.push(outcome),
  };
  const start = (processingTimeoutMs: number, finish: Promise<void>) => {
    const batch = new MessageBatch('web:room', { at: time.now() });
    batch.add({ id: 'm1', platform: 'web', channelId: 'room', userId: 'u', text: 'hi', queuedAt: time.now() } as never);
    const run = new BatchRun(port, null, { batch, settings: { ...DEFAULT_SETTINGS, processingTimeoutMs }, attempt: 1, sealedAt: time.now() }, time.now());
    run.start(() => finish);
    return run;
  };
  return { time, timers, ends, start };
}

describe('RunTimers (a worker’s processing timeouts)', () => {
  it('aborts a run with timeout once its processingTimeoutMs passed, not before', async () => {
    const { time, timers, ends, start } = setup();
    const run = start(500, new Promise(() => {}));
    await time.advance(499);
    expect(ends).toEqual([]);
    await time.advance(1);
    expect(run.abortedBy).toBe('timeout');
    expect(ends).toMatchObject([{ status: 'failed', timeout: true, error: 'processor passed its 500 ms timeout' }]);
    expect(timers.size).toBe(0);
  });

  it('a run that ends in time leaves no timer behind', async () => {
    const { time, timers, ends, start } = setup();
    let finish!: () => void;
    start(500, new Promise<void>((resolve) => (finish = resolve)));
    expect(time.pendingTimers).toBe(1);
    finish();
    await time.settle();
    expect(ends).toEqual([{ status: 'processed' }]);
    expect(timers.size).toBe(0);
    expect(time.pendingTimers).toBe(0);
  });
});

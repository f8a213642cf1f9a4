import { describe, expect, it } from 'vitest';
import type { AppendResult, SealResult } from '../../../src/core/batch-store.js';
import { DEFAULT_SETTINGS } from '../../../src/core/policy.js';
import { Intake, type IntakeStore } from '../../../src/core/intake.js';

const message = { id: 'm1', platform: 'web', channelId: 'room', userId: 'u', text: 'hi' };

/** An asynchronous store (like Redis) whose append answers what the test says. */
function setup(append: () => Promise<AppendResult>, options: { refuseFailedAppend?: boolean; available?: boolean } = {}) {
  const armed: number[] = [];
  const store = {
    append: (_msg: unknown, now: number | undefined) => {
      expect(now).toBeUndefined();
      return append();
    },
    settings: async () => DEFAULT_SETTINGS,
  } as unknown as IntakeStore<SealResult>;
  const intake = new Intake<SealResult>({
    store,
    clock: { now: () => 1_000 },
    storeKeepsTime: true,
    closing: () => false,
    available: () => options.available ?? true,
    refuseFailedAppend: options.refuseFailedAppend ?? false,
    arm: (deadline) => void armed.push(deadline),
    sealed: () => {},
    frontInserted: () => {},
    resumed: () => {},
    cancelInFlight: () => false,
    localTime: (deadline) => deadline - 49_000,
  });
  return { intake, armed };
}

describe('Intake over an asynchronous store', () => {
  it('gives the store no time, arms the store-clock deadline and answers it on the local clock', async () => {
    const { intake, armed } = setup(async () => ({ status: 'open', pending: 1, deadline: 55_000, settings: DEFAULT_SETTINGS }));
    await expect(intake.enqueue(message)).resolves.toEqual({ accepted: true, channelKey: 'web:room', id: 'm1', deadline: 6_000, pending: 1, typing: DEFAULT_SETTINGS.typing });
    expect(armed).toEqual([55_000]);
  });

  it('a failed append refuses the message as unavailable when the store may be unreachable, else rejects', async () => {
    const fail = async (): Promise<AppendResult> => {
      throw new Error('connection lost');
    };
    await expect(setup(fail, { refuseFailedAppend: true }).intake.enqueue(message)).resolves.toMatchObject({ accepted: false, reason: 'unavailable' });
    await expect(setup(fail).intake.enqueue(message)).rejects.toThrow('connection lost');
  });

  it('an unavailable store refuses before any step', async () => {
    let appended = false;
    const { intake } = setup(async () => {
      appended = true;
      return { status: 'duplicate', settings: DEFAULT_SETTINGS };
    }, { available: false });
    await expect(intake.enqueue(message)).resolves.toMatchObject({ accepted: false, reason: 'unavailable' });
    expect(appended).toBe(false);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import type { QueuedMessage } from '../core/model.js';
import type { ProcessContext } from './processor.js';

/** A token handed to one run of an HTTP processor, and what ends it. */
export interface SteerGrant {
  token: string;
  /** Ends the token (the run ended); idempotent. */
  revoke(): void;
}

/**
 * The steer tokens of the HTTP processor's runs in this process (`POST steerUrl` with `Authorization:
 * Bearer <token>`). A token is 32 random bytes, valid from the request that carries it until its run's
 * processor returns; tokens are kept by their SHA-256, so a look-up's timing says nothing about a token.
 */
export class SteerTokens {
  private readonly runs = new Map<string, Pick<ProcessContext, 'steered' | 'onSteer'>>();

  /** A new token for the run of `ctx`. */
  issue(ctx: Pick<ProcessContext, 'steered' | 'onSteer'>): SteerGrant {
    const token = randomBytes(32).toString('base64url');
    const key = digest(token);
    this.runs.set(key, ctx);
    return {
      token,
      revoke: () => {
        this.runs.delete(key);
        const waiting = this.waiters.get(key);
        this.waiters.delete(key);
        for (const wake of waiting ?? []) wake();
      },
    };
  }

  /**
   * Takes the run's offered messages; undefined when no running run holds `token`. With `waitMs`, an
   * empty take waits (pushed by `ctx.onSteer`, no polling) until something is offered, the run ends
   * (revoke) or `waitMs` passed, then takes again.
   */
  take(token: string, waitMs = 0): Promise<QueuedMessage[]> | undefined {
    const key = digest(token);
    const ctx = this.runs.get(key);
    if (ctx === undefined) return undefined;
    const take = () => ctx.steered?.() ?? Promise.resolve([]);
    if (waitMs <= 0 || ctx.onSteer === undefined) return take();
    return take().then(async (first) => {
      if (first.length > 0) return first;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          off();
          this.waiters.get(key)?.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        timer.unref();
        const off = ctx.onSteer!(done);
        let set = this.waiters.get(key);
        if (set === undefined) this.waiters.set(key, (set = new Set()));
        set.add(done);
      });
      return this.runs.has(key) ? take() : [];
    });
  }

  /** Waits of {@link take} per token, ended when their token is revoked. */
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Runs holding a token now. */
  get size(): number {
    return this.runs.size;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

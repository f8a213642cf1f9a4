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
  private readonly runs = new Map<string, Pick<ProcessContext, 'steered'>>();

  /** A new token for the run of `ctx`. */
  issue(ctx: Pick<ProcessContext, 'steered'>): SteerGrant {
    const token = randomBytes(32).toString('base64url');
    const key = digest(token);
    this.runs.set(key, ctx);
    return { token, revoke: () => this.runs.delete(key) };
  }

  /** Takes the run's offered messages; undefined when no running run holds `token`. */
  take(token: string): Promise<QueuedMessage[]> | undefined {
    const ctx = this.runs.get(digest(token));
    if (ctx === undefined) return undefined;
    return ctx.steered?.() ?? Promise.resolve([]);
  }

  /** Runs holding a token now. */
  get size(): number {
    return this.runs.size;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

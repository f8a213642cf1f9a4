import type { AdapterContext, PlatformAdapter } from '../../adapters/adapter.js';
import type { OutboundMessage } from '../../src/core/model.js';

/**
 * A slow platform: each `send` waits until the test releases it, so replies pile up behind it. `sent`
 * lists what reached the platform, in the order sends began; `delivered` counts the sends that ended.
 */
export class HeldSendsAdapter implements PlatformAdapter {
  readonly sent: OutboundMessage[] = [];
  delivered = 0;
  ctx: AdapterContext | undefined;
  private releases: Array<{ channelId: string; resolve: () => void }> = [];
  /** Set by releaseAll: sends end as soon as they begin. */
  private open = false;
  private watchers: Array<() => void> = [];

  constructor(readonly platform = 'test') {}

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }

  async send(reply: OutboundMessage): Promise<void> {
    this.sent.push(reply);
    this.notify();
    if (!this.open) await new Promise<void>((resolve) => this.releases.push({ channelId: reply.channelId, resolve }));
    this.delivered++;
    this.notify();
  }

  /** Lets the `n` oldest waiting sends end (of `channelId` only, when given). */
  release(n = 1, channelId?: string): void {
    for (let i = 0; i < n; i++) {
      const index = this.releases.findIndex((r) => channelId === undefined || r.channelId === channelId);
      if (index < 0) throw new Error(`no send of ${channelId ?? 'any channel'} is waiting`);
      this.releases.splice(index, 1)[0]!.resolve();
    }
  }

  /** Lets every send end from now on. */
  releaseAll(): void {
    this.open = true;
    for (const r of this.releases.splice(0)) r.resolve();
  }

  /** Resolves once `predicate` holds, checked whenever a send begins or ends. */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (predicate()) resolve();
        else this.watchers.push(check);
      };
      this.watchers.push(check);
    });
  }

  async close(): Promise<void> {
    this.releaseAll();
  }

  private notify(): void {
    for (const watcher of this.watchers.splice(0)) watcher();
  }
}

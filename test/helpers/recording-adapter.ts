import type { AdapterContext, PlatformAdapter } from '../../adapters/adapter.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { OutboundMessage } from '../../src/core/model.js';

/**
 * A PlatformAdapter for gateway tests: messages go in through the real `accept`, replies and queue
 * events are recorded as the gateway delivers them.
 */
export class RecordingAdapter implements PlatformAdapter {
  readonly sent: OutboundMessage[] = [];
  readonly events: QueueEvent[] = [];
  ctx: AdapterContext | undefined;
  closed = 0;
  protected waiters: Array<() => void> = [];

  constructor(readonly platform = 'test') {}

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }

  accept(channelId: string, text: string, id?: string, userName = 'Ana') {
    if (!this.ctx) throw new Error('adapter not started');
    return this.ctx.accept({ id: id ?? `${channelId}-${Math.random().toString(36).slice(2)}`, platform: this.platform, channelId, userId: `u-${userName}`, userName, text });
  }

  async send(reply: OutboundMessage): Promise<void> {
    this.sent.push(reply);
    for (const w of this.waiters.splice(0)) w();
  }

  onQueueEvent(event: QueueEvent): void {
    this.events.push(event);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `predicate` holds, checking after every reply or event; rejects after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

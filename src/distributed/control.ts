import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { QueueEvent } from '../core/events.js';

/** What travels between gateways and workers on the control channel. */
export type ControlMessage =
  /** Abort the holding worker's signal for this batch (cancel, stop, interrupt, an edit in interrupt mode, at any gateway). */
  | { type: 'cancel'; channelKey: string; batchId: string; reason: 'cancel' | 'stop' | 'interrupt' | 'edit' }
  /**
   * A worker's `ctx.typing()`: the gateway that sends the channel's replies shows the typing indicator
   * (`gatewayId` set: only that gateway, for platforms whose connection one gateway holds).
   */
  | { type: 'typing'; channelKey: string; batchId: string; gatewayId?: string }
  /** Steer mode: a batch of the channel sealed while one runs; the worker running it wakes `ctx.onSteer` listeners. */
  | { type: 'steer'; channelKey: string }
  /** A queue event that happened in a worker (started, completed, failed, reply dropped), for gateways' metrics and dashboard. */
  | { type: 'event'; event: QueueEvent };

/**
 * Redis pub/sub between the processes of one cluster. Pub/sub is fire-and-forget: a cancel also leaves a
 * durable trace (the fence), so a worker that missed the message still cannot reply or ACK.
 */
export class ControlBus {
  private readonly channel: string;
  private readonly handlers = new Set<(msg: ControlMessage) => void>();
  private subscribed = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}:control`;
  }

  async start(): Promise<void> {
    if (this.subscribed) return;
    this.subscribed = true;
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel !== this.channel) return;
      let msg: ControlMessage;
      try {
        msg = JSON.parse(payload) as ControlMessage;
      } catch {
        this.logger.warn({ payload: payload.slice(0, 200) }, 'ignoring a control message that is not JSON');
        return;
      }
      for (const handler of this.handlers) {
        try {
          handler(msg);
        } catch (err) {
          this.logger.error({ err, type: msg.type }, 'control handler threw');
        }
      }
    });
    // ioredis re-subscribes by itself after a reconnect.
    await this.subscriber.subscribe(this.channel);
  }

  on(handler: (msg: ControlMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Best effort: a failed publish is logged, never thrown (the fence still stops a stale worker). */
  async publish(msg: ControlMessage): Promise<void> {
    try {
      await this.publisher.publish(this.channel, JSON.stringify(msg));
    } catch (err) {
      this.logger.warn({ err, type: msg.type }, 'control publish failed');
    }
  }
}

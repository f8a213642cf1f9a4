import type { MessageBatch } from './model.js';

/** A change as it is applied and journaled: the new text and when, or `null` for a delete. */
export type AppliedChange = { text: string; editedAt: number } | null;

interface Changeable {
  id: string;
  text: string;
  editedAt?: number;
}

/**
 * Applies an edit or a delete to message `id` of `messages`, in place and keeping the order: the edited
 * message is a new object (a processor may hold the old one). False when `id` is not there.
 */
export function changeMessage<M extends Changeable>(messages: M[], id: string, change: AppliedChange): boolean {
  const at = messages.findIndex((m) => m.id === id);
  if (at < 0) return false;
  if (change === null) messages.splice(at, 1);
  else messages[at] = { ...messages[at]!, text: change.text, editedAt: change.editedAt };
  return true;
}

/** Where a change landed among a channel's waiting batches: the open one, or the queued one at `index`. */
export type WaitingHit = { where: 'open' } | { where: 'queued'; index: number };

/**
 * Applies a change to the first waiting batch holding the message: the open one, then the queued ones in
 * order. The in-memory store and the journal's state both search this way, so a replayed journal
 * changes the same message the store did.
 */
export function changeWaiting<B extends { messages: Changeable[] }>(open: B | null, queued: readonly B[], id: string, change: AppliedChange): WaitingHit | null {
  if (open !== null && changeMessage(open.messages, id, change)) return { where: 'open' };
  for (let i = 0; i < queued.length; i++) if (changeMessage(queued[i]!.messages, id, change)) return { where: 'queued', index: i };
  return null;
}

/**
 * Batches answered lately (processed, failed or cancelled), newest last, so an edit of one of their
 * messages is told `done` rather than `unknown`, and `editAfterReply: followUp` finds the original. A
 * ring of batch references: recording costs one slot write per finished batch; a look-up scans (edits
 * are rare).
 */
export class AnsweredBatches {
  private readonly ring: Array<MessageBatch | undefined>;
  private next = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<MessageBatch | undefined>(Math.max(0, capacity));
  }

  add(batch: MessageBatch): void {
    if (this.ring.length === 0) return;
    this.ring[this.next] = batch;
    this.next = (this.next + 1) % this.ring.length;
  }

  /** The newest answered batch of the channel holding message `id`, and the message. */
  find(channelKey: string, id: string): { batch: MessageBatch; index: number } | null {
    const n = this.ring.length;
    for (let k = 1; k <= n; k++) {
      const batch = this.ring[(this.next - k + n) % n];
      if (batch === undefined) return null;
      if (batch.channelKey !== channelKey) continue;
      const index = batch.messages.findIndex((m) => m.id === id);
      if (index >= 0) return { batch, index };
    }
    return null;
  }
}

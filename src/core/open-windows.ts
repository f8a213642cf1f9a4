import type { EmitQueueEvent } from './batch-store.js';
import type { ChannelState } from './channel-state.js';
import { DeadlineHeap } from './deadlines.js';
import { QueueEventType, type HoldCause } from './events.js';
import type { QueuedMessage } from './model.js';
import { holdCauseOf, messageTurn, windowOf, type MessageTurn } from './turn-rules.js';

/**
 * The in-memory store's open windows: each open batch's deadline, the one heap of deadlines, and what
 * moves a deadline later: a hold (media group, typing) and the content rules of the latest message.
 * A window's deadline is `min(max(lastAt + window, holdUntil), firstAt + maxWaitMs)`, where the window
 * is `hold.holdMs` while the latest message looks unfinished.
 */
export class OpenWindows {
  readonly heap = new DeadlineHeap<ChannelState>();

  constructor(private readonly emit: EmitQueueEvent) {}

  /** What the message says about the turn (content rules, flushOn); a message without text says nothing. */
  turnOf(ch: ChannelState, msg: QueuedMessage): MessageTurn {
    return messageTurn(msg.text, ch.settings);
  }

  /** A batch opened: no hold, no open code block. */
  opened(ch: ChannelState): void {
    ch.holdUntil = 0;
    ch.fenceOpen = false;
    ch.heldBy = null;
  }

  /** The open batch took a message: its content hold follows the new latest message. */
  appended(ch: ChannelState, turn: MessageTurn, now: number): number {
    if (turn.fenceOdd) ch.fenceOpen = !ch.fenceOpen;
    ch.heldBy = holdCauseOf(ch.fenceOpen, turn.rule);
    const deadline = this.arm(ch);
    if (ch.heldBy !== null) this.reportIfHeld(ch, ch.heldBy, ch.open!.lastAt + ch.settings.windowMs, deadline, now);
    return deadline;
  }

  /** Recomputes the open batch's deadline from the current settings; arms the heap only if it moved earlier. */
  arm(ch: ChannelState): number {
    const open = ch.open!;
    const s = ch.settings;
    const window = windowOf(s, ch.heldBy !== null);
    const deadline = Math.min(Math.max(open.lastAt + window, ch.holdUntil), open.firstAt + s.maxWaitMs);
    ch.deadline = deadline;
    if (deadline < ch.heapAt) {
      ch.heapAt = deadline;
      this.heap.push(deadline, ch);
    }
    return deadline;
  }

  /** Keeps an armed open batch open until at least `now + holdMs`; null when nothing is open or it is disarmed. */
  hold(ch: ChannelState | undefined, holdMs: number, now: number, reason?: HoldCause): number | null {
    if (!ch || ch.open === null || ch.deadline === Infinity) return null;
    const before = ch.deadline;
    ch.holdUntil = Math.max(ch.holdUntil, now + holdMs);
    const deadline = this.arm(ch);
    if (reason !== undefined) this.reportIfHeld(ch, reason, before, deadline, now);
    return deadline;
  }

  /** A typing signal: holds for `typingHoldMs` when `userId` wrote in the open batch. */
  typing(ch: ChannelState | undefined, userId: string, now: number): number | null {
    if (!ch || ch.open === null || ch.settings.typingHoldMs === 0) return null;
    if (!ch.open.messages.some((m) => m.userId === userId)) return null;
    return this.hold(ch, ch.settings.typingHoldMs, now, 'typing');
  }

  /** Drops the open deadline; false when none was armed. */
  disarm(ch: ChannelState | undefined): boolean {
    if (!ch || ch.deadline === Infinity) return false;
    ch.deadline = Infinity;
    ch.heapAt = Infinity;
    return true;
  }

  /** `batch.held` when the deadline moved later than it would have been. */
  private reportIfHeld(ch: ChannelState, reason: HoldCause, before: number, deadline: number, now: number): void {
    if (deadline <= before) return;
    this.emit({ type: QueueEventType.Held, channelKey: ch.key, at: now, batchId: ch.open!.id, reason, deadline });
  }

  /** Channels whose window is due at `now`, at most `limit`, each popped from the heap; slid windows are re-armed. */
  *due(now: number, limit: number): Generator<ChannelState> {
    const heap = this.heap;
    let n = 0;
    while (heap.size > 0 && heap.peekTime() <= now && n < limit) {
      const at = heap.peekTime();
      const ch = heap.pop();
      if (ch.heapAt !== at) continue; // stale: the channel re-armed earlier, sealed, or was evicted
      ch.heapAt = Infinity;
      if (ch.open === null) continue;
      if (ch.deadline > now) {
        // The window slid (or was disarmed and re-armed): re-arm at its current end.
        if (ch.deadline !== Infinity) {
          ch.heapAt = ch.deadline;
          heap.push(ch.deadline, ch);
        }
        continue;
      }
      n++;
      yield ch;
    }
  }

  /** The earliest live deadline, or null. */
  next(): number | null {
    const heap = this.heap;
    while (heap.size > 0 && heap.peekItem()!.heapAt !== heap.peekTime()) heap.pop();
    return heap.size > 0 ? heap.peekTime() : null;
  }
}

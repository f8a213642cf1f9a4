import type { DurableBatch, DurableChannel } from '../core/journal.js';
import type { FlushReason, QueuedMessageJSON } from '../core/model.js';
import type { SettingsOverride } from '../core/policy.js';
import { changeMessage, changeWaiting, type AppliedChange } from '../core/message-change.js';

/**
 * One journal record: a store step, as a JSON array (short to write, cheap to parse). The first element
 * names the step, the second is the channel key.
 */
export type JournalRecord =
  | ['a', string, QueuedMessageJSON, string | null] // appended (opened batch id)
  | ['s', string, FlushReason] // sealed
  | ['d', string] // overflow dropped the head
  | ['m', string, string] // overflow merged the queue (new id)
  | ['F', string, DurableBatch] // pushed to the front
  | ['R', string, DurableBatch] // restored to the back
  | ['t', string] // taken (in flight)
  | ['f', string] // finished
  | ['i', string, string] // interrupted (merged id)
  | ['r', string] // released to the front
  | ['p', string, 0 | 1] // paused / resumed
  | ['c', string] // cleared
  | ['e', string, { id: string; text: string; editedAt: number }] // a message edited (open, queued, then in flight)
  | ['x', string, string] // a message deleted (open, queued, then in flight)
  | ['o', string, SettingsOverride | null]; // override set / removed

function emptyChannel(key: string): DurableChannel {
  return { key, paused: false, override: null, open: null, queued: [], inFlight: null };
}

function isIdle(ch: DurableChannel): boolean {
  return ch.open === null && ch.queued.length === 0 && ch.inFlight === null && !ch.paused && ch.override === null;
}

function mergeBatches(id: string, batches: DurableBatch[], reason: FlushReason | null, attempt: number): DurableBatch {
  const messages = batches.flatMap((b) => b.messages);
  return { id, reason, attempt, firstAt: messages[0]?.queuedAt ?? 0, lastAt: messages.at(-1)?.queuedAt ?? 0, messages };
}

/** As the in-memory store's change step: the waiting batches first (one left empty goes), then the one in flight. */
function changeIn(ch: DurableChannel, id: string, change: AppliedChange): void {
  const hit = changeWaiting(ch.open, ch.queued, id, change);
  if (hit === null) {
    if (ch.inFlight !== null) changeMessage(ch.inFlight.messages, id, change);
    return;
  }
  if (hit.where === 'open') {
    if (ch.open!.messages.length === 0) ch.open = null;
  } else if (ch.queued[hit.index]!.messages.length === 0) ch.queued.splice(hit.index, 1);
}

/**
 * The journal's picture of every channel's durable state, kept by applying records in order: the same
 * function rebuilds it from disk at start and keeps it current while the gateway runs, so a snapshot
 * written from it equals what replaying the log would give. Idle channels are dropped, so it holds only
 * what waits, runs, is paused or overridden.
 */
export class JournalState {
  private readonly channels = new Map<string, DurableChannel>();

  constructor(channels: DurableChannel[] = []) {
    for (const ch of channels) this.channels.set(ch.key, ch);
  }

  private channel(key: string): DurableChannel {
    let ch = this.channels.get(key);
    if (ch === undefined) {
      ch = emptyChannel(key);
      this.channels.set(key, ch);
    }
    return ch;
  }

  /** The hot record, without building it: a message joined the open batch. */
  append(key: string, msg: QueuedMessageJSON, openedBatchId: string | null): void {
    const ch = this.channel(key);
    if (ch.open === null) ch.open = { id: openedBatchId ?? `recovered-${msg.id}`, reason: null, attempt: 1, firstAt: msg.queuedAt, lastAt: msg.queuedAt, messages: [] };
    ch.open.messages.push(msg);
    ch.open.lastAt = msg.queuedAt;
  }

  /** The per-batch records, without building them: sealed, taken, finished. */
  seal(key: string, reason: FlushReason): void {
    const ch = this.channel(key);
    if (ch.open !== null) {
      ch.open.reason = reason;
      ch.queued.push(ch.open);
      ch.open = null;
    }
  }
  take(key: string): void {
    const ch = this.channel(key);
    if (ch.inFlight === null && ch.queued.length > 0) ch.inFlight = ch.queued.shift()!;
  }
  finish(key: string): void {
    const ch = this.channels.get(key);
    if (ch === undefined) return;
    ch.inFlight = null;
    if (isIdle(ch)) this.channels.delete(key);
  }

  /** Applies one record. Records that do not fit the state (a torn or foreign log) are ignored. */
  apply(rec: JournalRecord): void {
    const ch = this.channel(rec[1]);
    switch (rec[0]) {
      case 'a':
        this.append(rec[1], rec[2], rec[3]);
        break;
      case 's':
        this.seal(rec[1], rec[2]);
        break;
      case 'd':
        ch.queued.shift();
        break;
      case 'm':
        if (ch.queued.length > 0) ch.queued = [mergeBatches(rec[2], ch.queued, ch.queued[0]!.reason, 1)];
        break;
      case 'F':
        ch.queued.unshift(rec[2]);
        break;
      case 'R':
        ch.queued.push(rec[2]);
        break;
      case 't':
        this.take(rec[1]);
        break;
      case 'f':
        ch.inFlight = null;
        break;
      case 'i': {
        const run = ch.inFlight;
        if (run === null) break;
        ch.inFlight = null;
        const merged = mergeBatches(rec[2], [run, ...ch.queued], ch.queued.at(-1)?.reason ?? run.reason, run.attempt + 1);
        ch.queued = merged.messages.length > 0 ? [merged] : [];
        break;
      }
      case 'r':
        if (ch.inFlight !== null) ch.queued.unshift({ ...ch.inFlight, attempt: ch.inFlight.attempt + 1 });
        ch.inFlight = null;
        break;
      case 'p':
        ch.paused = rec[2] === 1;
        break;
      case 'c':
        ch.open = null;
        ch.queued = [];
        break;
      case 'o':
        ch.override = rec[2];
        break;
      case 'e':
        changeIn(ch, rec[2].id, { text: rec[2].text, editedAt: rec[2].editedAt });
        break;
      case 'x':
        changeIn(ch, rec[2], null);
        break;
    }
    if (isIdle(ch)) this.channels.delete(ch.key);
  }

  /**
   * After a crash: a batch that was in flight goes back to the head of its queue to run again, its
   * attempt counted, so the processor can tell (`ctx.attempt`).
   */
  requeueInFlight(): void {
    for (const ch of this.channels.values()) {
      if (ch.inFlight === null) continue;
      ch.queued.unshift({ ...ch.inFlight, attempt: ch.inFlight.attempt + 1 });
      ch.inFlight = null;
    }
  }

  list(): DurableChannel[] {
    return [...this.channels.values()];
  }

  /** Messages held (open, queued and in flight). */
  messageCount(): number {
    let n = 0;
    for (const ch of this.channels.values()) {
      n += ch.open?.messages.length ?? 0;
      n += ch.inFlight?.messages.length ?? 0;
      for (const b of ch.queued) n += b.messages.length;
    }
    return n;
  }
}

import type { ChannelStats, FinishResult, SealResult } from '../core/batch-store.js';
import type { QueueEvent } from '../core/events.js';
import { MessageBatch, messageToJSON, parseChannelKey, type FlushReason, type QueuedMessage } from '../core/model.js';
import type { ChannelSettings } from '../core/policy.js';

/**
 * The text forms the Lua scripts and the store exchange. A sealed entry is a small JSON header, a newline
 * and the JSON array of its messages: scripts read the header and join message arrays as text, never
 * re-encoding a message.
 */

/** The header of a sealed entry (lib.lua `entry()`). Seal orders can pass 2^47, so they stay exact as digits. */
export interface EntryHeader {
  id: string;
  seq: number;
  sealedAt: number;
  attempt: number;
  size: number;
  firstAt: number;
  lastAt: number;
  reason: FlushReason | null;
}

export interface DecodedEntry {
  header: EntryHeader;
  batch: MessageBatch;
}

/** Splits `header\nbody` at the first newline (JSON text never holds a raw newline). */
export function splitFirstLine(text: string): [string, string] {
  const nl = text.indexOf('\n');
  return [text.slice(0, nl), text.slice(nl + 1)];
}

export function decodeEntry(channelKey: string, text: string): DecodedEntry {
  const [head, body] = splitFirstLine(text);
  const header = JSON.parse(head) as EntryHeader;
  const batch = new MessageBatch(channelKey, { id: header.id, messages: JSON.parse(body) as QueuedMessage[] });
  batch.firstAt = header.firstAt;
  batch.lastAt = header.lastAt;
  batch.flushReason = header.reason;
  return { header, batch };
}

/** A message as stored: its JSON form, plus `raw` only when the caller kept it (distributed.keepRaw). */
export function encodeMessage(msg: QueuedMessage): string {
  const json = messageToJSON(msg);
  return JSON.stringify(msg.raw === undefined ? json : { ...json, raw: msg.raw });
}

/** A batch's fields as a script takes them: messages JSON, id, size, firstAt, lastAt (whole ms). */
export function batchArgs(batch: MessageBatch): string[] {
  const body = `[${batch.messages.map(encodeMessage).join(',')}]`;
  return [body, batch.id, String(batch.size), String(Math.floor(batch.firstAt)), String(Math.floor(batch.lastAt))];
}

const settingsText = new WeakMap<ChannelSettings, string>();

/** Settings as lib.lua `settings()` reads them; the policy hands out frozen objects, so this is cached. */
export function encodeSettings(s: ChannelSettings): string {
  let text = settingsText.get(s);
  if (text === undefined) {
    text = [s.windowMs, s.maxWaitMs, s.maxBatchSize, s.disabled ? 1 : 0, s.maxQueuedBatches, s.overflow, s.mode, s.typingHoldMs, s.hold.holdMs, s.groupBy].join('|');
    settingsText.set(s, text);
  }
  return text;
}

/** What every script answers first (lib.lua `reply()`); the step's own fields come with it. */
export interface ScriptMeta {
  /** The clock the step used (Redis TIME or the caller's); absent when the step read none. Always there with `ev`. */
  now?: number;
  /** Events the step produced, minus `channelKey` (`k`) and `at` (`now`). */
  ev?: Array<{ t: QueueEvent['type']; k: string } & Record<string, unknown>>;
  /** Active channels of the shard after the step (shard steps). */
  ac?: number;
  /** The change a channel step made to its shard's active channels (+1 activated, -1 evicted), when any. */
  acd?: number;
  [field: string]: unknown;
}

/** cjson writes an empty Lua table as `{}`: a list field may come back as an object. */
export function asList<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** A seal order sent as digits (lib.lua `fmt`), or null. */
export function seqOf(value: unknown): number | null {
  return typeof value === 'string' ? Number(value) : null;
}

/** A seal as lib.lua `seal_result()` writes it: the seal order as digits. */
export type RawSeal = Omit<SealResult, 'headSeq'> & { headSeq: string };

export function decodeSeal(raw: RawSeal): SealResult {
  return { ...raw, headSeq: Number(raw.headSeq) };
}

/** lib.lua `finish_reply()`. */
export function decodeFinish(meta: ScriptMeta): FinishResult {
  return meta.cur === true ? { current: true, nextSeq: seqOf(meta.next) } : { current: false, nextSeq: null };
}

/** A channel's state as lib.lua `channel_stats()` writes it. */
export interface RawStats {
  k: string;
  active: boolean;
  paused: boolean;
  /** The override's JSON, when one is set. */
  ov?: string;
  dl?: number;
  pending: number;
  qb: number;
  qm: number;
  counters: ChannelStats['counters'];
  fid?: string;
  fst?: number;
  fsize?: number;
}

export function decodeStats(st: RawStats, settings: ChannelSettings): ChannelStats {
  const { platform, channelId } = parseChannelKey(st.k);
  return {
    key: st.k,
    platform,
    channelId,
    pending: st.pending,
    queuedBatches: st.qb,
    queuedMessages: st.qm,
    processing: st.fid !== undefined,
    paused: st.paused,
    settings,
    counters: st.counters,
    deadline: st.dl ?? null,
    inFlight: st.fid !== undefined ? { batchId: st.fid, size: st.fsize ?? 0, startedAt: st.fst ?? 0 } : null,
    active: st.active,
  };
}

import type { DurableBatch } from '../core/journal.js';
import type { FlushReason, QueuedMessageJSON } from '../core/model.js';
import type { SettingsOverride } from '../core/policy.js';
import type { JournalRecord } from './journal-state.js';

/**
 * The log's binary record format (version 2). A log file starts with an 8-byte header: the magic
 * `BGJL` and the format version (u32 LE). Then records, back to back, each
 *
 *     u8 kind | u32 LE body length | body
 *
 * Numbers are little-endian; a string is `u32 byte length | UTF-8 bytes`. Channels are named once per
 * log by a `K` record (`u32 id | key | platform | channelId`, ids 0, 1, 2… in order) and by their id
 * after that, so a batch's seal, take and finish are fixed-size records of 5 to 6 bytes. A message
 * (`a`) is `u32 channel | u8 flags | f64 queuedAt | id | userId | [userName] | text | [opened batch id]
 * | [platform | channelId] | [extra as JSON]`, the bracketed fields present by flag: no JSON and no
 * string per message in the common shape (no `extra`, the channel's own platform and id). Rare records
 * that carry a whole batch or a settings override hold it as one JSON string.
 *
 * Reading: a record cut short by the end of the file is a write torn by a crash (never acknowledged)
 * and ends the log quietly, as does a zero-filled tail; a record that does not decode (unknown kind, a
 * length that does not add up, an unknown channel) is corruption and is reported.
 */
export const LOG_MAGIC = 0x4c4a4742; // 'BGJL' read as u32 LE
export const LOG_VERSION = 2;
export const LOG_HEADER_BYTES = 8;

const K_CHANNEL = 0x4b; // 'K'
const KIND: Record<JournalRecord[0], number> = {
  a: 0x61, s: 0x73, d: 0x64, m: 0x6d, F: 0x46, R: 0x52, t: 0x74, f: 0x66, i: 0x69, r: 0x72, p: 0x70, c: 0x63, o: 0x6f,
  e: 0x65, x: 0x78,
};
const A_OPENED = 1;
const A_SAME_NAME = 2;
const A_OWN_FIELDS = 4;
const A_EXTRA = 8;

const REASONS: readonly FlushReason[] = ['window', 'size', 'maxWait', 'disabled', 'shutdown', 'admin', 'keyword'];
const REASON_CODE = new Map<FlushReason, number>(REASONS.map((r, i) => [r, i]));

/** The magic and version every log file starts with. */
export function logHeader(): Buffer {
  const b = Buffer.alloc(LOG_HEADER_BYTES);
  b.writeUInt32LE(LOG_MAGIC, 0);
  b.writeUInt32LE(LOG_VERSION, 4);
  return b;
}

interface ChannelRef {
  id: number;
  platform: string;
  channelId: string;
}

/** `Buffer#write(s, off, 'utf8')` without its argument normalization (the same native encoder). */
type Utf8Buffer = Buffer & { utf8Write(s: string, offset: number): number };

/** Scratch for a float64's bytes (Buffer#writeDoubleLE checks its arguments on every call). */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);

/** Short strings are copied by a loop (cheaper than a call into the encoder) while they stay ASCII. */
const SHORT = 24;

/**
 * Encodes records straight into one reused buffer; `bytes()` is what a flush writes. Channel ids are
 * per log: `reset()` when a new log starts.
 */
export class RecordEncoder {
  private buf = Buffer.allocUnsafe(1 << 20) as Utf8Buffer;
  private off = 0;
  private channels = new Map<string, ChannelRef>();

  get length(): number {
    return this.off;
  }

  /** The encoded records since the last `clear()` (a view of the reused buffer: write it before encoding more). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }

  clear(): void {
    this.off = 0;
  }

  /** A new log: nothing pending, channels named again. */
  reset(): void {
    this.off = 0;
    this.channels.clear();
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.off + n, this.buf.length * 2)) as Utf8Buffer;
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  private u32(at: number, n: number): void {
    const b = this.buf;
    b[at] = n;
    b[at + 1] = n >>> 8;
    b[at + 2] = n >>> 16;
    b[at + 3] = n >>> 24;
  }

  /** Writes `u32 length | UTF-8` at `off` (capacity ensured by the caller: 4 + 3 per UTF-16 unit). */
  private str(s: string): void {
    const b = this.buf;
    const start = this.off + 4;
    const n = s.length;
    if (n <= SHORT) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      if (i === n) {
        this.u32(this.off, n);
        this.off = start + n;
        return;
      }
    }
    const bytes = b.utf8Write(s, start);
    this.u32(this.off, bytes);
    this.off = start + bytes;
  }

  /** The channel's id in this log; names it first (a `K` record) when it is new to the log. */
  private channel(key: string, platform?: string, channelId?: string): ChannelRef {
    const known = this.channels.get(key);
    if (known !== undefined) return known;
    let p = platform;
    let c = channelId;
    if (p === undefined || c === undefined) {
      const at = key.indexOf(':');
      p = at < 0 ? key : key.slice(0, at);
      c = at < 0 ? '' : key.slice(at + 1);
    }
    const ref: ChannelRef = { id: this.channels.size, platform: p, channelId: c };
    this.channels.set(key, ref);
    this.ensure(17 + 3 * (key.length + p.length + c.length));
    const start = this.off;
    this.buf[start] = K_CHANNEL;
    this.u32(start + 5, ref.id);
    this.off = start + 9;
    this.str(key);
    this.str(p);
    this.str(c);
    this.u32(start + 1, this.off - start - 5);
    return ref;
  }

  /** The hot record: a message joined the open batch (`opened`: the batch it opened). */
  appended(key: string, msg: QueuedMessageJSON, opened: string | null): void {
    const ref = this.channels.get(key) ?? this.channel(key, msg.platform, msg.channelId);
    let flags = 0;
    let extra: string | undefined;
    if (opened !== null) flags |= A_OPENED;
    if (msg.userName === msg.userId) flags |= A_SAME_NAME;
    const own = msg.platform !== ref.platform || msg.channelId !== ref.channelId;
    if (own) flags |= A_OWN_FIELDS;
    for (const _ in msg.extra) {
      extra = JSON.stringify(msg.extra);
      flags |= A_EXTRA;
      break;
    }
    let units = msg.id.length + msg.userId.length + msg.text.length;
    if ((flags & A_SAME_NAME) === 0) units += msg.userName.length;
    if (opened !== null) units += opened.length;
    if (own) units += msg.platform.length + msg.channelId.length;
    if (extra !== undefined) units += extra.length;
    this.ensure(46 + 3 * units);
    const start = this.off;
    this.buf[start] = KIND.a;
    this.u32(start + 5, ref.id);
    this.buf[start + 9] = flags;
    F64[0] = msg.queuedAt;
    for (let i = 0; i < 8; i++) this.buf[start + 10 + i] = F64_BYTES[i]!;
    this.off = start + 18;
    this.str(msg.id);
    this.str(msg.userId);
    if ((flags & A_SAME_NAME) === 0) this.str(msg.userName);
    this.str(msg.text);
    if (opened !== null) this.str(opened);
    if (own) {
      this.str(msg.platform);
      this.str(msg.channelId);
    }
    if (extra !== undefined) this.str(extra);
    this.u32(start + 1, this.off - start - 5);
  }

  /** A record of 5 bytes (`byte` < 0) or 6, built without the record's tuple: taken, finished, sealed. */
  step(kind: 't' | 'f' | 's', key: string, reason?: FlushReason): void {
    const id = this.channel(key).id;
    this.ensure(10);
    const start = this.off;
    this.buf[start] = KIND[kind];
    this.u32(start + 5, id);
    if (reason === undefined) {
      this.u32(start + 1, 4);
      this.off = start + 9;
    } else {
      this.u32(start + 1, 5);
      this.buf[start + 9] = REASON_CODE.get(reason) ?? 0;
      this.off = start + 10;
    }
  }

  /** Any other record: a fixed-size one, or one carrying a string. */
  record(rec: Exclude<JournalRecord, ['a', ...unknown[]]>): void {
    const id = this.channel(rec[1]).id;
    let text: string | null = null;
    let byte = -1;
    switch (rec[0]) {
      case 's':
        byte = REASON_CODE.get(rec[2]) ?? 0;
        break;
      case 'p':
        byte = rec[2];
        break;
      case 'm':
      case 'i':
      case 'x':
        text = rec[2];
        break;
      case 'F':
      case 'R':
      case 'e':
        text = JSON.stringify(rec[2]);
        break;
      case 'o':
        byte = rec[2] === null ? 0 : 1;
        if (rec[2] !== null) text = JSON.stringify(rec[2]);
        break;
    }
    this.ensure(14 + (text === null ? 0 : 3 * text.length));
    const start = this.off;
    this.buf[start] = KIND[rec[0]];
    this.u32(start + 5, id);
    this.off = start + 9;
    if (byte >= 0) this.buf[this.off++] = byte;
    if (text !== null) this.str(text);
    this.u32(start + 1, this.off - start - 5);
  }
}

/** What reading one log found besides its records. */
export interface DecodeEnd {
  /** `torn`: the last record was cut short (ignored); `corrupt`: a record in the middle did not decode. */
  status: 'complete' | 'torn' | 'corrupt';
  /** Byte offset where reading stopped. */
  offset: number;
  reason?: string;
}

/** An unknown magic or version: a file this version cannot read (refused at start-up). */
export class JournalFormatError extends Error {}

class Corrupt extends Error {}

/**
 * Decodes a log file's bytes, calling `onRecord` for each record in order. Stops at a torn tail or at
 * the first record that does not decode (see {@link DecodeEnd}). Throws {@link JournalFormatError} when
 * the header names another format.
 */
export function decodeLog(buf: Buffer, onRecord: (rec: JournalRecord) => void, file = 'log'): DecodeEnd {
  if (buf.length < LOG_HEADER_BYTES) return { status: buf.length === 0 ? 'complete' : 'torn', offset: 0 };
  const magic = buf.readUInt32LE(0);
  const version = buf.readUInt32LE(4);
  if (magic !== LOG_MAGIC) throw new JournalFormatError(`journal log ${file} is not a batchgate journal log (bad magic)`);
  if (version !== LOG_VERSION) throw new JournalFormatError(`journal log ${file} has format version ${version}; this version reads only version ${LOG_VERSION}`);
  const channels: ChannelRef[] = [];
  const keys: string[] = [];
  let off = LOG_HEADER_BYTES;
  while (off < buf.length) {
    if (buf.length - off < 5) return tail(buf, off);
    const kind = buf[off]!;
    const len = buf.readUInt32LE(off + 1);
    if (kind === 0 && len === 0) return tail(buf, off);
    const end = off + 5 + len;
    if (end > buf.length) return KINDS.has(kind) || kind === K_CHANNEL ? { status: 'torn', offset: off } : { status: 'corrupt', offset: off, reason: `unknown record kind ${kind}` };
    try {
      const r = new Reader(buf, off + 5, end);
      if (kind === K_CHANNEL) {
        const id = r.u32();
        if (id !== channels.length) throw new Corrupt(`channel id ${id} out of order`);
        keys.push(r.str());
        channels.push({ id, platform: r.str(), channelId: r.str() });
        r.done();
      } else {
        const rec = decodeRecord(kind, r, channels, keys);
        r.done();
        onRecord(rec);
      }
    } catch (err) {
      if (!(err instanceof Corrupt)) throw err;
      return { status: 'corrupt', offset: off, reason: err.message };
    }
    off = end;
  }
  return { status: 'complete', offset: off };
}

/** A record header cut short, or only zeros left (a tail the file system zero-filled after a crash): torn; zeros then data: corrupt. */
function tail(buf: Buffer, off: number): DecodeEnd {
  if (buf.length - off >= 5) for (let i = off; i < buf.length; i++) if (buf[i] !== 0) return { status: 'corrupt', offset: off, reason: 'data after a zero-filled gap' };
  return { status: 'torn', offset: off };
}

const KINDS = new Map<number, JournalRecord[0]>(Object.entries(KIND).map(([k, v]) => [v, k as JournalRecord[0]]));

function decodeRecord(kind: number, r: Reader, channels: ChannelRef[], keys: string[]): JournalRecord {
  const name = KINDS.get(kind);
  if (name === undefined) throw new Corrupt(`unknown record kind ${kind}`);
  const id = r.u32();
  const ch = channels[id];
  if (ch === undefined) throw new Corrupt(`unknown channel id ${id}`);
  const key = keys[id]!;
  switch (name) {
    case 'a': {
      const flags = r.u8();
      const queuedAt = r.f64();
      const msgId = r.str();
      const userId = r.str();
      const userName = (flags & A_SAME_NAME) !== 0 ? userId : r.str();
      const text = r.str();
      const opened = (flags & A_OPENED) !== 0 ? r.str() : null;
      const own = (flags & A_OWN_FIELDS) !== 0;
      const platform = own ? r.str() : ch.platform;
      const channelId = own ? r.str() : ch.channelId;
      const extra = (flags & A_EXTRA) !== 0 ? (r.json() as Record<string, unknown>) : {};
      return ['a', key, { id: msgId, platform, channelId, userId, userName, text, queuedAt, extra }, opened];
    }
    case 's': {
      const reason = REASONS[r.u8()];
      if (reason === undefined) throw new Corrupt('unknown flush reason');
      return ['s', key, reason];
    }
    case 'p': {
      const p = r.u8();
      if (p > 1) throw new Corrupt('bad pause flag');
      return ['p', key, p as 0 | 1];
    }
    case 'm':
    case 'i':
    case 'x':
      return [name, key, r.str()];
    case 'e':
      return ['e', key, r.json() as { id: string; text: string; editedAt: number }];
    case 'F':
    case 'R':
      return [name, key, r.json() as DurableBatch];
    case 'o':
      return ['o', key, r.u8() === 0 ? null : (r.json() as SettingsOverride)];
    default:
      return [name, key];
  }
}

/** Reads one record's body; any read past its end is corruption. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    private off: number,
    private readonly end: number,
  ) {}

  private need(n: number): void {
    if (this.off + n > this.end) throw new Corrupt('record shorter than its fields');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u32(): number {
    this.need(4);
    const n = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return n;
  }
  f64(): number {
    this.need(8);
    const n = this.buf.readDoubleLE(this.off);
    this.off += 8;
    return n;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
  json(): unknown {
    const s = this.str();
    try {
      return JSON.parse(s) as unknown;
    } catch {
      throw new Corrupt('unreadable JSON field');
    }
  }
  done(): void {
    if (this.off !== this.end) throw new Corrupt('record longer than its fields');
  }
}

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DurableBatch } from '../../../src/core/journal.js';
import type { QueuedMessageJSON } from '../../../src/core/model.js';
import { decodeLog, JournalFormatError, logHeader, RecordEncoder } from '../../../src/state/journal-codec.js';
import { readJournal } from '../../../src/state/journal-files.js';
import { FileJournal } from '../../../src/state/journal.js';
import type { JournalRecord } from '../../../src/state/journal-state.js';

const root = mkdtempSync(path.join(tmpdir(), 'bg-journal-codec-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => path.join(root, `d${++dirs}`);

const msg = (over: Partial<QueuedMessageJSON> = {}): QueuedMessageJSON => ({
  id: 'm1',
  platform: 'web',
  channelId: 'room',
  userId: 'u1',
  userName: 'u1',
  text: 'hello',
  queuedAt: 1_765_000_000_123,
  extra: {},
  ...over,
});

const batch: DurableBatch = {
  id: 'b-front',
  reason: 'admin',
  attempt: 2,
  firstAt: 10,
  lastAt: 20.5,
  messages: [msg({ id: 'f1', extra: { thread: 't1', attachments: [{ url: 'https://x.test/a.png', size: 3 }] } }), msg({ id: 'f2', text: 'ünïcødé ✓ 🚀' })],
};

/** Every record kind, with the message variants the format has flags for. */
const EVERY: JournalRecord[] = [
  ['a', 'web:room', msg(), 'b1'],
  ['a', 'web:room', msg({ id: 'm2', userName: 'Alice', text: 'x'.repeat(5_000) }), null],
  ['a', 'web:room', msg({ id: 'm3', text: 'ünïcødé ✓ 🚀 日本語', userId: 'ü', userName: 'ü' }), null],
  ['a', 'web:room', msg({ id: 'm4', extra: { guild: 'g', mentions: ['a', 'b'], nested: { n: 1.5, ok: true, none: null } } }), null],
  ['a', 'web:room', msg({ id: 'm5', queuedAt: 1.25, text: '' }), null],
  // A message whose own platform and channel id are not those of the key it is filed under.
  ['a', 'slack:T1:C2/1700000000.000100', msg({ id: 'm6', platform: 'other', channelId: 'elsewhere' }), 'b2'],
  ...(['window', 'size', 'maxWait', 'disabled', 'shutdown', 'admin'] as const).map((r): JournalRecord => ['s', 'web:room', r]),
  ['d', 'web:room'],
  ['m', 'web:room', 'b-merged'],
  ['F', 'web:room', batch],
  ['R', 'web:other', { ...batch, id: 'b-restored', reason: null }],
  ['t', 'web:room'],
  ['f', 'web:room'],
  ['i', 'web:room', 'b-interrupted'],
  ['r', 'web:room'],
  ['p', 'web:room', 1],
  ['p', 'web:room', 0],
  ['c', 'web:room'],
  ['o', 'web:room', { maxBatchSize: 3, overflow: 'merge', windowMs: 250 }],
  ['o', 'web:room', null],
  ['e', 'web:room', { id: 'm2', text: 'edited ✓', editedAt: 1_765_000_000_456 }],
  ['x', 'web:room', 'm3'],
];

function encode(records: JournalRecord[]): Buffer {
  const e = new RecordEncoder();
  for (const rec of records) {
    if (rec[0] === 'a') e.appended(rec[1], rec[2], rec[3]);
    else if (rec[0] === 't' || rec[0] === 'f') e.step(rec[0], rec[1]);
    else e.record(rec);
  }
  return Buffer.concat([logHeader(), e.bytes()]);
}

function decode(buf: Buffer): { records: JournalRecord[]; end: ReturnType<typeof decodeLog> } {
  const records: JournalRecord[] = [];
  const end = decodeLog(buf, (r) => records.push(r));
  return { records, end };
}

/** Byte offsets where each record of `records` starts in `encode(records)` (after the header). */
function recordStarts(records: JournalRecord[]): number[] {
  const starts: number[] = [];
  for (let i = 0; i < records.length; i++) starts.push(encode(records.slice(0, i)).length);
  return starts;
}

describe('journal record codec', () => {
  it('round-trips every record kind exactly', () => {
    const { records, end } = decode(encode(EVERY));
    expect(end).toEqual({ status: 'complete', offset: encode(EVERY).length });
    expect(records).toEqual(EVERY);
  });

  it('the per-batch steps are written as the same records as their general form', () => {
    const e = new RecordEncoder();
    e.step('s', 'web:room', 'maxWait');
    const viaStep = Buffer.from(e.bytes());
    const g = new RecordEncoder();
    g.record(['s', 'web:room', 'maxWait']);
    expect(viaStep.equals(g.bytes())).toBe(true);
  });

  it('ignores a last record torn at any byte, keeping every record before it', () => {
    const records: JournalRecord[] = [['a', 'web:room', msg(), 'b1'], ['s', 'web:room', 'size'], ['a', 'web:room', msg({ id: 'm2', text: 'ünï ✓' }), 'b2']];
    const full = encode(records);
    const lastStart = recordStarts(records)[2]!;
    for (let cut = lastStart + 1; cut < full.length; cut++) {
      const { records: got, end } = decode(full.subarray(0, cut));
      expect(end.status, `cut at ${cut}`).toBe('torn');
      expect(got).toEqual(records.slice(0, 2));
    }
    // A file system may leave zeros where a write had not landed.
    const zeros = decode(Buffer.concat([full, Buffer.alloc(300)]));
    expect(zeros.end.status).toBe('torn');
    expect(zeros.records).toEqual(records);
  });

  it('reports a corrupt record in the middle and stops there', () => {
    const records: JournalRecord[] = [['a', 'web:room', msg(), 'b1'], ['s', 'web:room', 'size'], ['t', 'web:room'], ['f', 'web:room']];
    const starts = recordStarts(records);
    const full = encode(records);

    const badKind = Buffer.from(full);
    badKind[starts[1]!] = 0xee;
    expect(decode(badKind)).toEqual({ records: records.slice(0, 1), end: { status: 'corrupt', offset: starts[1], reason: 'unknown record kind 238' } });

    const badLength = Buffer.from(full);
    badLength.writeUInt32LE(2, starts[1]! + 1); // shorter than its channel id
    expect(decode(badLength).end).toMatchObject({ status: 'corrupt', offset: starts[1] });

    const badReason = Buffer.from(full);
    badReason[starts[2]! - 1] = 99; // the seal's flush reason
    expect(decode(badReason)).toMatchObject({ records: records.slice(0, 1), end: { status: 'corrupt', reason: 'unknown flush reason' } });

    const badChannel = Buffer.from(full);
    badChannel.writeUInt32LE(7, starts[2]! + 5); // a channel never named in this log
    expect(decode(badChannel)).toMatchObject({ records: records.slice(0, 2), end: { status: 'corrupt', reason: 'unknown channel id 7' } });
  });

  it('refuses a log of another format version, or not a journal log at all', () => {
    const other = encode(EVERY);
    other.writeUInt32LE(1, 4);
    expect(() => decode(other)).toThrow(JournalFormatError);
    expect(() => decode(other)).toThrow(/format version 1; this version reads only version 2/);
    expect(() => decode(Buffer.from('["a","web:room",{}]\n'.repeat(3)))).toThrow(/bad magic/);
  });
});

describe('reading a journal directory', () => {
  it('a corrupt record in a log is reported (logged, and in the problems), the records before it recovered', () => {
    const dir = newDir();
    const j = FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 });
    j.appended('web:room', { ...msg(), raw: undefined }, 'b1');
    j.appended('web:room', { ...msg({ id: 'm2' }), raw: undefined }, null);
    j.flushNow();
    j.sealed('web:room', 'size');
    j.flushNow();
    j.abandon();
    const file = path.join(dir, 'log.1.bin');
    const bytes = readFileSync(file);
    // Corrupt the first message's record kind: the rest of the log is skipped and reported.
    const corrupt = Buffer.from(bytes);
    const firstA = corrupt.indexOf(0x61, 8);
    corrupt[firstA] = 0xee;
    writeFileSync(file, corrupt);
    const logged: Array<{ obj: unknown; msg: string }> = [];
    const logger = { warn: () => {}, error: (obj: unknown, m: string) => logged.push({ obj, msg: m }) } as never;
    const { state, problems } = readJournal(dir, logger);
    expect(problems).toEqual([{ file, status: 'corrupt', offset: firstA, reason: 'unknown record kind 238' }]);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.msg).toMatch(/unreadable record/);
    expect(state.list()).toEqual([]);
  });

  it('refuses at start-up a directory written in the earlier JSON-lines format, with a message that says what to do', () => {
    const dir = newDir();
    FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 }).abandon();
    writeFileSync(path.join(dir, 'log.3.jsonl'), '["p","web:room",1]\n');
    expect(() => FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 })).toThrow(JournalFormatError);
    expect(() => FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 })).toThrow(/log\.3\.jsonl, written in an earlier journal format .* remove the files/);
  });

  it('refuses a snapshot of another format version', () => {
    const dir = newDir();
    FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 }).abandon();
    writeFileSync(path.join(dir, 'snapshot.5.json'), JSON.stringify({ v: 1, gen: 5 }) + '\n');
    expect(() => FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 })).toThrow(/snapshot\.5\.json has format version 1/);
  });
});

describe('a journal that cannot write', () => {
  it('refuses what waited for the failed write, and everything after, as unavailable (503), not as bad input', async () => {
    const dir = newDir();
    const j = FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 });
    // The log is swapped for a descriptor that refuses writes (EBADF), as a failing disk makes them fail.
    const handle = j as unknown as { fd: number };
    const logFd = handle.fd;
    writeFileSync(path.join(dir, 'readonly'), '');
    handle.fd = openSync(path.join(dir, 'readonly'), 'r');
    closeSync(logFd);
    j.appended('web:room', { ...msg(), raw: undefined }, 'b1');
    const waiting = j.whenDurable('answer');
    j.flushNow();
    await expect(waiting).rejects.toMatchObject({ code: 'BG_ERR_UNAVAILABLE', statusCode: 503, message: expect.stringMatching(/journal cannot write .*EBADF/) });
    await expect(j.whenDurable('next')).rejects.toMatchObject({ code: 'BG_ERR_UNAVAILABLE' });
    j.abandon();
  });
});

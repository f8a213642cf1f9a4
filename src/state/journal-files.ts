import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { LifecycleError } from '../errors.js';
import type { DurableChannel } from '../core/journal.js';
import { decodeLog, JournalFormatError, LOG_VERSION, type DecodeEnd } from './journal-codec.js';
import { JournalState } from './journal-state.js';

/** The journal directory's files: snapshots (JSON lines) and logs (binary records, see journal-codec.ts). */
const SNAPSHOT = /^snapshot\.(\d+)\.json$/;
const LOG = /^log\.(\d+)\.bin$/;
/** Logs of the first format (JSON lines), which this version refuses to read. */
const OLD_LOG = /^log\.(\d+)\.jsonl$/;
export const snapshotName = (gen: number) => `snapshot.${gen}.json`;
export const logName = (gen: number) => `log.${gen}.bin`;

/** What a directory holds: the newest complete snapshot and the logs written after it. */
interface JournalFiles {
  snapshot: number | null;
  logs: number[];
  /** Every journal file, for clean-up after a new snapshot. */
  all: string[];
  /** Files of a format this version cannot read. */
  foreign: string[];
}

function listFiles(dir: string): JournalFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { snapshot: null, logs: [], all: [], foreign: [] };
    throw err;
  }
  let snapshot: number | null = null;
  const logs: number[] = [];
  const all: string[] = [];
  const foreign: string[] = [];
  for (const name of names) {
    const s = SNAPSHOT.exec(name);
    const l = LOG.exec(name);
    if (s) snapshot = Math.max(snapshot ?? 0, Number(s[1]));
    if (l) logs.push(Number(l[1]));
    if (OLD_LOG.test(name)) foreign.push(name);
    if (s || l || name.endsWith('.tmp')) all.push(name);
  }
  // A log older than the snapshot is already in it (it was written before the snapshot was taken).
  return { snapshot, logs: logs.filter((g) => snapshot === null || g >= snapshot).sort((a, b) => a - b), all, foreign };
}

/** A log that did not read to its end: its file and where and why reading stopped. */
export interface LogProblem extends DecodeEnd {
  file: string;
}

/**
 * Reads a journal directory: the newest snapshot, then every log record written after it, in order. A
 * record cut short ends its log quietly (a write torn by a crash; it was never acknowledged); one that
 * does not decode is reported and ends its log. Files of another format are refused with a
 * {@link JournalFormatError}. Reads only: a crash while recovering changes nothing on disk.
 */
export function readJournal(dir: string, logger?: Logger): { state: JournalState; gen: number; problems: LogProblem[] } {
  const files = listFiles(dir);
  if (files.foreign.length > 0) {
    throw new JournalFormatError(
      `journal ${dir} holds ${files.foreign.join(', ')}, written in an earlier journal format this version does not read (it reads format ${LOG_VERSION}); ` +
        'drain it with the version that wrote it, or remove the files to start empty',
    );
  }
  let gen = files.snapshot ?? 0;
  const state = new JournalState(files.snapshot === null ? [] : readSnapshot(path.join(dir, snapshotName(files.snapshot))));
  const problems: LogProblem[] = [];
  for (const g of files.logs) {
    gen = Math.max(gen, g);
    const file = path.join(dir, logName(g));
    const end = decodeLog(readFileSync(file), (rec) => state.apply(rec), file);
    if (end.status === 'complete') continue;
    problems.push({ file, ...end });
    if (end.status === 'torn') logger?.warn({ file, offset: end.offset }, 'journal: torn last record ignored (it was never acknowledged)');
    else logger?.error({ file, offset: end.offset, reason: end.reason }, 'journal: unreadable record; the rest of this log is skipped');
  }
  return { state, gen, problems };
}

function readSnapshot(file: string): DurableChannel[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const header = JSON.parse(lines[0] ?? '{}') as { v?: number };
  if (header.v !== LOG_VERSION) throw new JournalFormatError(`journal snapshot ${file} has format version ${String(header.v)}; this version reads only version ${LOG_VERSION}`);
  return lines.slice(1).map((l) => JSON.parse(l) as DurableChannel);
}

/** Writes a snapshot atomically: a temp file, fsync, rename, fsync of the directory. */
export function writeSnapshot(dir: string, gen: number, channels: DurableChannel[]): void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, snapshotName(gen));
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, Buffer.from([JSON.stringify({ v: LOG_VERSION, gen }), ...channels.map((c) => JSON.stringify(c))].join('\n') + '\n', 'utf8'));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dir);
}

/** Removes every journal file but the ones named in `keep`. */
export function removeJournalFiles(dir: string, keep: string[] = []): void {
  for (const name of listFiles(dir).all) {
    if (keep.includes(name)) continue;
    try {
      unlinkSync(path.join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * One gateway per journal: two would interleave their logs and each recover the other's messages. The
 * `LOCK` file names the owner's pid; a lock whose process is gone (killed) is taken over.
 */
export function lockDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'LOCK');
  try {
    const owner = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new LifecycleError(`journal ${dir} is in use by process ${owner}: give each gateway its own state.journal.path`);
    }
  } catch (err) {
    if (err instanceof LifecycleError) throw err;
    // no lock yet, or an unreadable one: take it
  }
  const fd = openSync(file, 'w');
  try {
    writeAll(fd, Buffer.from(String(process.pid)));
  } finally {
    closeSync(fd);
  }
}

export function unlockDir(dir: string): void {
  try {
    if (Number(readFileSync(path.join(dir, 'LOCK'), 'utf8')) === process.pid) unlinkSync(path.join(dir, 'LOCK'));
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `buf` (a write may take only part of it). */
export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

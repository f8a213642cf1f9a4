import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { LifecycleError } from '../core/errors.js';
import type { DurableBatch, DurableChannel, Journal } from '../core/journal.js';
import { messageToJSON, type FlushReason, type QueuedMessage } from '../core/model.js';
import type { SettingsOverride } from '../core/policy.js';
import { JournalState, type JournalRecord } from './journal-state.js';

/** `always`: on disk before a message is acknowledged; `everysec`: written to the OS before, on disk within ~1 s. */
export type JournalSync = 'always' | 'everysec';

export interface FileJournalOptions {
  /** The journal's directory (snapshot and log files). */
  dir: string;
  fsync: JournalSync;
  logger?: Logger;
  /** The log is compacted (snapshot + fresh log) once it passes this many bytes. @defaultValue 16 MiB */
  compactBytes?: number;
  /** How often `everysec` calls fdatasync; 0 never (tests). @defaultValue 1000 */
  syncIntervalMs?: number;
}

const SNAPSHOT = /^snapshot\.(\d+)\.json$/;
const LOG = /^log\.(\d+)\.jsonl$/;
const snapshotName = (gen: number) => `snapshot.${gen}.json`;
const logName = (gen: number) => `log.${gen}.jsonl`;

/** What a directory holds: the newest complete snapshot and the logs written after it. */
interface JournalFiles {
  snapshot: number | null;
  logs: number[];
  /** Every journal file, for clean-up after a new snapshot. */
  all: string[];
}

function listFiles(dir: string): JournalFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { snapshot: null, logs: [], all: [] };
    throw err;
  }
  let snapshot: number | null = null;
  const logs: number[] = [];
  const all: string[] = [];
  for (const name of names) {
    const s = SNAPSHOT.exec(name);
    const l = LOG.exec(name);
    if (s) snapshot = Math.max(snapshot ?? 0, Number(s[1]));
    if (l) logs.push(Number(l[1]));
    if (s || l || name.endsWith('.tmp')) all.push(name);
  }
  // A log older than the snapshot is already in it (it was written before the snapshot was taken).
  return { snapshot, logs: logs.filter((g) => snapshot === null || g >= snapshot).sort((a, b) => a - b), all };
}

/**
 * Reads a journal directory: the newest snapshot, then every log line written after it, in order. A line
 * that does not parse ends its log (a write torn by a crash; nothing after it was acknowledged). Reads
 * only: a crash while recovering changes nothing on disk.
 */
export function readJournal(dir: string, logger?: Logger): { state: JournalState; gen: number } {
  const files = listFiles(dir);
  let gen = files.snapshot ?? 0;
  const state = new JournalState(files.snapshot === null ? [] : readSnapshot(path.join(dir, snapshotName(files.snapshot))));
  for (const g of files.logs) {
    gen = Math.max(gen, g);
    const file = path.join(dir, logName(g));
    const text = readFileSync(file, 'utf8');
    let start = 0;
    let line = 0;
    while (start < text.length) {
      const end = text.indexOf('\n', start);
      if (end === -1) {
        logger?.warn({ file, line }, 'journal: torn last record ignored (it was never acknowledged)');
        break;
      }
      line++;
      let rec: JournalRecord;
      try {
        rec = JSON.parse(text.slice(start, end)) as JournalRecord;
      } catch {
        logger?.error({ file, line }, 'journal: unreadable record; the rest of this log is skipped');
        break;
      }
      state.apply(rec);
      start = end + 1;
    }
  }
  return { state, gen };
}

function readSnapshot(file: string): DurableChannel[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const header = JSON.parse(lines[0] ?? '{}') as { v?: number };
  if (header.v !== 1) throw new Error(`journal snapshot ${file}: unsupported version ${String(header.v)}`);
  return lines.slice(1).map((l) => JSON.parse(l) as DurableChannel);
}

/** Writes a snapshot atomically: a temp file, fsync, rename, fsync of the directory. */
export function writeSnapshot(dir: string, gen: number, channels: DurableChannel[]): void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, snapshotName(gen));
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, [JSON.stringify({ v: 1, gen }), ...channels.map((c) => JSON.stringify(c))].join('\n') + '\n');
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
function lockDir(dir: string): void {
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
    writeAll(fd, String(process.pid));
  } finally {
    closeSync(fd);
  }
}

function unlockDir(dir: string): void {
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

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

interface Group {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Embedded mode's crash journal: an append-only log of the store's steps (one JSON line each) beside a
 * snapshot, in one directory. Steps told in one event-loop turn are written together with one `write`
 * before any of the messages they accepted is answered (so a killed process loses nothing it
 * acknowledged); `always` then waits for one fdatasync that covers every write waiting at that moment
 * (group commit), `everysec` calls fdatasync about once a second. When the log passes `compactBytes`,
 * the state is written as a new snapshot and the log starts afresh, so the directory stays the size of
 * what waits, whatever the traffic.
 */
export class FileJournal implements Journal {
  private readonly dir: string;
  private readonly mode: JournalSync;
  private readonly logger: Logger | undefined;
  private readonly compactBytes: number;
  private readonly state: JournalState;
  private readonly recoveredChannels: DurableChannel[];
  private gen: number;
  private fd: number;
  private logBytes = 0;
  private chunks: string[] = [];
  /** Reused between flushes: records are encoded straight into it, one write per flush. */
  private out = Buffer.allocUnsafe(1 << 20);
  private flushScheduled = false;
  /** Waiters for the steps not yet written. */
  private group: Group | null = null;
  /** `always`: written groups waiting for the next fdatasync. */
  private awaitingSync: Group[] = [];
  private syncing = false;
  /** Resolves when the running fdatasync ends. */
  private syncEnded: Promise<void> = Promise.resolve();
  private endSync: () => void = () => {};
  private dirty = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private failure: unknown = null;

  private constructor(options: FileJournalOptions, state: JournalState, gen: number) {
    this.dir = options.dir;
    this.mode = options.fsync;
    this.logger = options.logger;
    this.compactBytes = options.compactBytes ?? 16 * 2 ** 20;
    this.state = state;
    this.recoveredChannels = state.list();
    this.gen = gen;
    this.fd = this.startGeneration(gen);
    const every = options.syncIntervalMs ?? 1_000;
    if (this.mode === 'everysec' && every > 0) {
      this.syncTimer = setInterval(() => this.syncInBackground(), every);
      this.syncTimer.unref();
    }
  }

  /**
   * Opens (or creates) the journal in `dir`: recovers what the last process left, puts batches that were
   * in flight back at the head of their queues (attempt + 1), and writes that as a new snapshot before
   * removing the old files, so a crash during recovery loses nothing either.
   */
  static open(options: FileJournalOptions): FileJournal {
    lockDir(options.dir);
    const { state, gen } = readJournal(options.dir, options.logger);
    state.requeueInFlight();
    return new FileJournal(options, state, gen + 1);
  }

  /** What the last process left (paused channels, overrides, open, queued and re-queued batches), for the engine. */
  recovered(): DurableChannel[] {
    return this.recoveredChannels;
  }

  /** Messages the journal holds now (open, queued, in flight). */
  messageCount(): number {
    return this.state.messageCount();
  }

  /** Writes the state as snapshot `gen`, opens log `gen`, and removes older files. */
  private startGeneration(gen: number): number {
    writeSnapshot(this.dir, gen, this.state.list());
    const fd = openSync(path.join(this.dir, logName(gen)), 'a');
    removeJournalFiles(this.dir, [snapshotName(gen), logName(gen)]);
    this.logBytes = 0;
    return fd;
  }

  // ── the store's steps ────────────────────────────────────────────────────

  appended(channelKey: string, msg: QueuedMessage, openedBatchId: string | null): void {
    // The hot step: no copy of the message unless it carries `raw` (never written), one stringify.
    const json = msg.raw === undefined ? msg : messageToJSON(msg);
    this.state.append(channelKey, json, openedBatchId);
    this.write(`["a",${JSON.stringify(channelKey)},${JSON.stringify(json)},${openedBatchId === null ? 'null' : JSON.stringify(openedBatchId)}]\n`);
  }
  sealed(channelKey: string, reason: FlushReason): void {
    this.record(['s', channelKey, reason]);
  }
  droppedHead(channelKey: string): void {
    this.record(['d', channelKey]);
  }
  merged(channelKey: string, batchId: string): void {
    this.record(['m', channelKey, batchId]);
  }
  pushedFront(channelKey: string, batch: DurableBatch): void {
    this.record(['F', channelKey, batch]);
  }
  restored(channelKey: string, batch: DurableBatch): void {
    this.record(['R', channelKey, batch]);
  }
  taken(channelKey: string): void {
    this.record(['t', channelKey]);
  }
  finished(channelKey: string): void {
    this.record(['f', channelKey]);
  }
  interrupted(channelKey: string, batchId: string): void {
    this.record(['i', channelKey, batchId]);
  }
  released(channelKey: string): void {
    this.record(['r', channelKey]);
  }
  paused(channelKey: string, paused: boolean): void {
    this.record(['p', channelKey, paused ? 1 : 0]);
  }
  cleared(channelKey: string): void {
    this.record(['c', channelKey]);
  }
  override(channelKey: string, override: SettingsOverride | null): void {
    this.record(['o', channelKey, override]);
  }

  private record(rec: JournalRecord): void {
    this.state.apply(rec);
    this.write(JSON.stringify(rec) + '\n');
  }

  private write(line: string): void {
    if (this.closed) return;
    this.chunks.push(line);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  whenDurable<T>(value: T): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    let group: Group | undefined;
    if (this.chunks.length > 0) group = this.group ??= newGroup();
    else if (this.mode === 'always') group = this.awaitingSync.at(-1);
    return group === undefined ? Promise.resolve(value) : group.promise.then(() => value);
  }

  // ── writing ──────────────────────────────────────────────────────────────

  /** Writes every step told so far (one write). `everysec` answers their waiters now, `always` after the next fdatasync. */
  flushNow(): void {
    this.flushScheduled = false;
    const group = this.group;
    this.group = null;
    if (this.chunks.length > 0 && !this.closed) {
      const chunks = this.chunks;
      this.chunks = [];
      let len = 0;
      for (const c of chunks) len += Buffer.byteLength(c, 'utf8');
      if (this.out.length < len) this.out = Buffer.allocUnsafe(Math.max(len, this.out.length * 2));
      let off = 0;
      for (const c of chunks) off += this.out.write(c, off, 'utf8');
      try {
        let written = 0;
        while (written < off) written += writeSync(this.fd, this.out, written, off - written);
      } catch (err) {
        this.fail(err, group);
        return;
      }
      this.logBytes += off;
      this.dirty = true;
    }
    if (group === null) return;
    if (this.mode === 'always') {
      this.awaitingSync.push(group);
      this.kickSync();
    } else group.resolve();
  }

  private flush(): void {
    this.flushNow();
    this.compactIfDue();
  }

  /** Group commit: one fdatasync covers every group written while the previous one ran. */
  private kickSync(): void {
    if (this.syncing || this.awaitingSync.length === 0) return;
    const groups = this.awaitingSync;
    this.awaitingSync = [];
    this.beginSync();
    this.dirty = false;
    fdatasync(this.fd, (err) => {
      this.finishSync();
      if (err) {
        this.fail(err, null, groups);
        return;
      }
      for (const g of groups) g.resolve();
      if (this.logBytes >= this.compactBytes) this.compact();
      else this.kickSync();
    });
  }

  private syncInBackground(): void {
    if (!this.dirty || this.syncing || this.closed) return;
    this.dirty = false;
    this.beginSync();
    fdatasync(this.fd, (err) => {
      this.finishSync();
      if (err) this.logger?.error({ err, dir: this.dir }, 'journal: fdatasync failed');
      this.compactIfDue();
    });
  }

  private beginSync(): void {
    this.syncing = true;
    this.syncEnded = new Promise((resolve) => (this.endSync = resolve));
  }

  private finishSync(): void {
    this.syncing = false;
    this.endSync();
  }

  private fail(err: unknown, group: Group | null, groups: Group[] = []): void {
    this.failure = err;
    this.logger?.error({ err, dir: this.dir }, 'journal: write failed; new messages are refused');
    group?.reject(err);
    for (const g of groups) g.reject(err);
  }

  private compactIfDue(): void {
    if (this.logBytes >= this.compactBytes) this.compact();
  }

  /**
   * Writes the state (which already holds every step told, written or not) as a new snapshot on disk and
   * starts a new log; steps not yet written are covered by the snapshot and dropped, their waiters answered.
   * Skipped while an fdatasync runs on the current log (retried when it ends).
   */
  compact(): boolean {
    if (this.closed || this.syncing) return false;
    const oldFd = this.fd;
    try {
      this.fd = this.startGeneration(this.gen + 1);
      this.gen++;
    } catch (err) {
      this.logger?.error({ err, dir: this.dir }, 'journal: compaction failed; the log keeps growing');
      return false;
    }
    closeSync(oldFd);
    this.chunks = [];
    this.dirty = false;
    const groups = this.group === null ? this.awaitingSync : [...this.awaitingSync, this.group];
    this.group = null;
    this.awaitingSync = [];
    for (const g of groups) g.resolve();
    return true;
  }

  /** Writes everything as a final snapshot and closes. Resolves with the messages the journal holds. */
  async close(): Promise<number> {
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    while (!this.closed && !this.compact()) {
      if (!this.syncing) throw new Error(`journal: cannot write the final snapshot in ${this.dir}`);
      await this.syncEnded; // an fdatasync on the log is still running
    }
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
      unlockDir(this.dir);
    }
    return this.state.messageCount();
  }

  /** Stops without a final snapshot, as a killed process would (tests). */
  abandon(): void {
    unlockDir(this.dir);
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.closed = true;
    this.chunks = [];
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

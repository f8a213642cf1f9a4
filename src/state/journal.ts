import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ErrorCode, GatewayError } from '../errors.js';
import type { DurableBatch, DurableChannel, Journal } from '../core/journal.js';
import { messageToJSON, type FlushReason, type QueuedMessage } from '../core/model.js';
import type { SettingsOverride } from '../core/policy.js';
import { logHeader, RecordEncoder } from './journal-codec.js';
import { lockDir, logName, readJournal, removeJournalFiles, snapshotName, unlockDir, writeAll, writeSnapshot } from './journal-files.js';
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
 * Embedded mode's crash journal: an append-only log of the store's steps (binary records, see
 * journal-codec.ts) beside a snapshot, in one directory. Steps told in one event-loop turn are written together with one `write`
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
  /** Steps told and not yet written, encoded into one reused buffer: one write per flush. */
  private readonly encoder = new RecordEncoder();
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
    try {
      writeAll(fd, logHeader());
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    removeJournalFiles(this.dir, [snapshotName(gen), logName(gen)]);
    this.encoder.reset();
    this.logBytes = 0;
    return fd;
  }

  // ── the store's steps ────────────────────────────────────────────────────

  appended(channelKey: string, msg: QueuedMessage, openedBatchId: string | null): void {
    // The hot step: no copy of the message unless it carries `raw` (never written), no string built.
    const json = msg.raw === undefined ? msg : messageToJSON(msg);
    this.state.append(channelKey, json, openedBatchId);
    if (this.closed) return;
    this.encoder.appended(channelKey, json, openedBatchId);
    this.scheduleFlush();
  }
  sealed(channelKey: string, reason: FlushReason): void {
    this.state.seal(channelKey, reason);
    this.step('s', channelKey, reason);
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
    this.state.take(channelKey);
    this.step('t', channelKey);
  }
  finished(channelKey: string): void {
    this.state.finish(channelKey);
    this.step('f', channelKey);
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
  changed(channelKey: string, messageId: string, edit: { text: string; editedAt: number } | null): void {
    this.record(edit === null ? ['x', channelKey, messageId] : ['e', channelKey, { id: messageId, ...edit }]);
  }
  override(channelKey: string, override: SettingsOverride | null): void {
    this.record(['o', channelKey, override]);
  }

  private record(rec: Exclude<JournalRecord, ['a', ...unknown[]]>): void {
    this.state.apply(rec);
    if (this.closed) return;
    this.encoder.record(rec);
    this.scheduleFlush();
  }

  /** A per-batch step: no record tuple built. */
  private step(kind: 't' | 'f' | 's', channelKey: string, reason?: FlushReason): void {
    if (this.closed) return;
    this.encoder.step(kind, channelKey, reason);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  whenDurable<T>(value: T): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    let group: Group | undefined;
    if (this.encoder.length > 0) group = this.group ??= newGroup();
    else if (this.mode === 'always') group = this.awaitingSync.at(-1);
    return group === undefined ? Promise.resolve(value) : group.promise.then(() => value);
  }

  // ── writing ──────────────────────────────────────────────────────────────

  /** Writes every step told so far (one write). `everysec` answers their waiters now, `always` after the next fdatasync. */
  flushNow(): void {
    this.flushScheduled = false;
    const group = this.group;
    this.group = null;
    if (this.encoder.length > 0 && !this.closed) {
      const bytes = this.encoder.bytes();
      try {
        let written = 0;
        while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      } catch (err) {
        this.encoder.clear();
        this.fail(err, group);
        return;
      }
      this.encoder.clear();
      this.logBytes += bytes.length;
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

  /**
   * A write or fdatasync failed (disk full, I/O error): what waited for it, and everything after, is
   * refused as unavailable (503, retry later), never as the sender's fault.
   */
  private fail(err: unknown, group: Group | null, groups: Group[] = []): void {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    const failure = new GatewayError(ErrorCode.Unavailable, `the journal cannot write to ${this.dir}${code ? ` (${code})` : ''}: messages are not accepted until it can`, { cause: err });
    this.failure = failure;
    this.logger?.error({ err, dir: this.dir }, 'journal: write failed; new messages are refused');
    group?.reject(failure);
    for (const g of groups) g.reject(failure);
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
    this.encoder.clear();
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

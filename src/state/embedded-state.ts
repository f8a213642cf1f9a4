import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { DurableChannel } from '../core/journal.js';
import { durableBatch } from '../core/memory-batch-store.js';
import type { MessageQueue } from '../core/message-queue.js';
import { MessageBatch, type MessageBatchJSON } from '../core/model.js';
import { FileJournal, type JournalSync } from './journal.js';
import { readJournal, removeJournalFiles, writeSnapshot } from './journal-files.js';

export interface EmbeddedStateOptions {
  /** The journal's directory (absolute). */
  dir: string;
  fsync: JournalSync | 'off';
  /** Where an older version left its shutdown spool (absolute). */
  spoolPath: string;
  logger: Logger;
}

/** What start-up found and put back into the queue. */
export interface Recovery {
  messages: number;
  batches: number;
  paused: number;
}

/**
 * Embedded mode's durable state: the crash journal (or, with `fsync: off`, only a snapshot written at a
 * clean shutdown), recovery into the queue at start, and the final write at shutdown. One mechanism for
 * crashes and shutdowns: what waits at exit is simply what the journal holds.
 */
export class EmbeddedState {
  /** Undefined with `fsync: off`. */
  readonly journal: FileJournal | undefined;
  private readonly options: EmbeddedStateOptions;
  private readonly found: DurableChannel[];

  constructor(options: EmbeddedStateOptions) {
    this.options = options;
    if (options.fsync === 'off') {
      const { state } = readJournal(options.dir, options.logger);
      state.requeueInFlight();
      this.found = state.list();
    } else {
      this.journal = FileJournal.open({ dir: options.dir, fsync: options.fsync, logger: options.logger });
      this.found = this.journal.recovered();
    }
  }

  /**
   * Puts back what the last process left: the journal's channels (paused stay paused, overrides persist,
   * batches in flight at a crash run again with their attempt counted), then an older version's spool.
   */
  async recover(queue: MessageQueue): Promise<Recovery> {
    const recovery: Recovery = { messages: 0, batches: 0, paused: 0 };
    for (const ch of this.found) {
      if (ch.paused) recovery.paused++;
      for (const b of [...(ch.open ? [ch.open] : []), ...ch.queued]) {
        recovery.batches++;
        recovery.messages += b.messages.length;
      }
    }
    queue.recover(this.found);
    // `off` keeps nothing while running: what was loaded is the queue's alone now.
    if (this.journal === undefined) removeJournalFiles(this.options.dir);
    const spooled = this.readLegacySpool();
    if (spooled.length > 0) {
      await queue.restore(spooled);
      await this.journal?.whenDurable(undefined);
      recovery.batches += spooled.length;
      recovery.messages += spooled.reduce((n, b) => n + b.size, 0);
      for (const file of [this.options.spoolPath, `${this.options.spoolPath}.replaying`]) rmSync(file, { force: true });
    }
    return recovery;
  }

  /**
   * After the queue drained: writes what still waits (a final snapshot) and closes. `waiting` is what the
   * queue handed back; with a journal it already holds them. Resolves with the messages kept for the next start.
   */
  async close(waiting: MessageBatch[], queue: MessageQueue): Promise<number> {
    if (this.journal !== undefined) return this.journal.close();
    const byKey = new Map<string, DurableChannel>();
    const channel = (key: string): DurableChannel => {
      let ch = byKey.get(key);
      if (ch === undefined) byKey.set(key, (ch = { key, paused: false, override: null, open: null, queued: [], inFlight: null }));
      return ch;
    };
    let count = 0;
    for (const b of waiting) {
      if (b.size === 0) continue;
      channel(b.channelKey).queued.push(durableBatch(b, 1));
      count += b.size;
    }
    for (const stats of await queue.list()) {
      const { override } = await queue.getSettings(stats.key);
      if (stats.paused) channel(stats.key).paused = true;
      if (override !== null) channel(stats.key).override = override;
    }
    removeJournalFiles(this.options.dir);
    if (byKey.size > 0) writeSnapshot(this.options.dir, 1, [...byKey.values()]);
    return count;
  }

  /** Batches an older version spooled at shutdown (`state.spoolPath`, and its `.replaying` copy). */
  private readLegacySpool(): MessageBatch[] {
    const batches: MessageBatch[] = [];
    for (const file of [`${this.options.spoolPath}.replaying`, this.options.spoolPath]) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          batches.push(MessageBatch.fromJSON(JSON.parse(line) as MessageBatchJSON));
        } catch (err) {
          this.options.logger.error({ err, file: path.basename(file) }, 'spool line unreadable; skipped');
        }
      }
    }
    return batches;
  }
}

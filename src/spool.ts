import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { MessageBatch, type MessageBatchJSON } from './core/model.js';

/**
 * Embedded mode's shutdown store: batches that could not run before exit, one JSON line each, replayed
 * at the next start. Written to a temp file and renamed so a crash mid-write never leaves half a spool.
 */
export class Spool {
  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** Writes the batches (replacing any previous spool); an empty list removes the file. */
  async write(batches: MessageBatch[]): Promise<number> {
    const nonEmpty = batches.filter((b) => b.size > 0);
    if (nonEmpty.length === 0) {
      await rm(this.file, { force: true });
      return 0;
    }
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, nonEmpty.map((b) => JSON.stringify(b.toJSON())).join('\n') + '\n', 'utf8');
    await rename(tmp, this.file);
    return nonEmpty.reduce((n, b) => n + b.size, 0);
  }

  /**
   * Reads and removes the spool. A corrupt line is logged and kept aside in `<file>.corrupt` rather than
   * failing start-up, so one bad line never costs the other batches.
   */
  async take(): Promise<MessageBatch[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const batches: MessageBatch[] = [];
    const corrupt: string[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        batches.push(MessageBatch.fromJSON(JSON.parse(line) as MessageBatchJSON));
      } catch (err) {
        corrupt.push(line);
        this.logger.error({ err, file: this.file }, 'spool line unreadable; kept in .corrupt');
      }
    }
    if (corrupt.length > 0) await writeFile(`${this.file}.corrupt`, corrupt.join('\n') + '\n', { flag: 'a' });
    await rm(this.file, { force: true });
    return batches;
  }
}

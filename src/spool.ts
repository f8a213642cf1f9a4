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
    await this.writeFile(this.file, nonEmpty);
    return nonEmpty.reduce((n, b) => n + b.size, 0);
  }

  /** Where batches being replayed are kept until they ran, so a crash mid-replay loses nothing. */
  get replayingFile(): string {
    return `${this.file}.replaying`;
  }

  /**
   * Takes the spool for replay: what a crashed replay left (`.replaying`) comes first, then the spool
   * written by the last shutdown. Both are kept in `.replaying` until {@link replayDone}, so a crash before
   * the replayed batches ran replays them again (at least once, never lost). A corrupt line is logged and
   * kept aside in `<file>.corrupt` rather than failing start-up, so one bad line never costs the others.
   */
  async take(): Promise<MessageBatch[]> {
    const batches = [...(await this.read(this.replayingFile)), ...(await this.read(this.file))];
    if (batches.length === 0) {
      await rm(this.replayingFile, { force: true });
      return [];
    }
    await this.writeFile(this.replayingFile, batches);
    await rm(this.file, { force: true });
    return batches;
  }

  /** The replayed batches have run (or are in the new spool): forget them. */
  async replayDone(): Promise<void> {
    await rm(this.replayingFile, { force: true });
  }

  private async writeFile(file: string, batches: MessageBatch[]): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, batches.map((b) => JSON.stringify(b.toJSON())).join('\n') + '\n', 'utf8');
    await rename(tmp, file);
  }

  private async read(file: string): Promise<MessageBatch[]> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
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
        this.logger.error({ err, file }, 'spool line unreadable; kept in .corrupt');
      }
    }
    if (corrupt.length > 0) await writeFile(`${this.file}.corrupt`, corrupt.join('\n') + '\n', { flag: 'a' });
    return batches;
  }
}

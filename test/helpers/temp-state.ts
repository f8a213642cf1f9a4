import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A `state` section in a fresh temp dir: the spool and the crash journal beside it. Without it a gateway
 * keeps its state in ./data of the working directory, which every test file running at the same time would
 * share (and the journal's lock refuses a second gateway there).
 */
export function tempState(): { spoolPath: string } {
  return { spoolPath: path.join(mkdtempSync(path.join(tmpdir(), 'batchgate-state-')), 'spool.jsonl') };
}

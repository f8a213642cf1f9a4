import type { TimelineEntry } from '../core/timeline.js';
import { formatTable } from './table.js';

/** `batchgate timeline KEY`: one row per decision, oldest first; times in UTC with milliseconds. */
export function timelineTable(result: { key: string; entries: TimelineEntry[] }): string {
  if (result.entries.length === 0) return `no timeline entries for ${result.key}\n`;
  return formatTable(
    ['TIME', 'TYPE', 'REASON', 'BATCH', 'DETAIL'],
    result.entries.map((e) => [
      new Date(e.at).toISOString().slice(11, 23),
      e.type,
      e.reason ?? '',
      e.batchId ?? '',
      [e.detail, e.messageIds !== undefined && e.type !== 'started' ? e.messageIds.join(', ') : undefined].filter(Boolean).join(' · '),
    ]),
  );
}

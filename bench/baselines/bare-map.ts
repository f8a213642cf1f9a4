/**
 * The memory floor for S3: what remembering a channel costs at the very least, a `Map` entry from its key
 * string to a small object. The engine's goal is to stay within 1.3× of this per idle channel.
 */

/** The small per-channel record the floor keeps (four fields, like a few counters and a timestamp). */
export interface FloorEntry {
  received: number;
  batches: number;
  lastAt: number;
  flags: number;
}

/** Builds the floor for N channels with keys shaped like the engine's (`bench:c123`). */
export function bareMap(channels: number, keyOf: (i: number) => string): Map<string, FloorEntry> {
  const map = new Map<string, FloorEntry>();
  for (let i = 0; i < channels; i++) map.set(keyOf(i), { received: 1, batches: 1, lastAt: i, flags: 0 });
  return map;
}

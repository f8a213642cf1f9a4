import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentKeys } from '../../../src/core/recent-keys.js';

describe('RecentKeys', () => {
  it('remembers keys for ttlMs, then forgets them', () => {
    let t = 0;
    const r = new RecentKeys(10, 1_000, () => t);
    expect(r.addIfNew('a')).toBe(true);
    expect(r.addIfNew('a')).toBe(false);
    t = 999;
    expect(r.has('a')).toBe(true);
    t = 1_000;
    expect(r.has('a')).toBe(false);
    expect(r.addIfNew('a')).toBe(true);
  });

  it('keeps at most `capacity` keys, forgetting the oldest first', () => {
    const r = new RecentKeys(3);
    for (const k of ['a', 'b', 'c', 'd']) r.add(k);
    expect(['a', 'b', 'c', 'd'].map((k) => r.has(k))).toEqual([false, true, true, true]);
    expect(r.size).toBe(3);
  });

  it('a refreshed key lives on after its older entry leaves the ring; a deleted key is gone', () => {
    let t = 0;
    const r = new RecentKeys(3, 100, () => t);
    r.add('a');
    t = 50;
    r.add('a'); // refresh
    t = 120; // the first entry expired, the refreshed one not
    expect(r.has('a')).toBe(true);
    r.delete('a');
    expect(r.has('a')).toBe(false);
    expect(r.addIfNew('a')).toBe(true);
  });

  it('addAllIfNew records every key and is false when any of them was remembered', () => {
    const r = new RecentKeys(10);
    expect(r.addAllIfNew(['event:1', 'msg:a'])).toBe(true);
    expect(r.addAllIfNew(['event:2', 'msg:a'])).toBe(false); // the same message under another name
    expect(r.has('event:2')).toBe(true); // recorded anyway, so its next redelivery is caught too
    expect(r.addAllIfNew(['event:2'])).toBe(false);
  });

  it('matches a simple model under random operations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('add', 'addIfNew', 'delete', 'tick'), fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.integer({ min: 0, max: 40 })), { maxLength: 200 }),
        (ops) => {
          let t = 0;
          const cap = 4;
          const ttl = 100;
          const r = new RecentKeys(cap, ttl, () => t);
          // Model: insertion-ordered log of (key, time, live); a key is remembered when its newest live
          // entry is among the last `cap` entries and younger than ttl.
          const log: Array<{ key: string; at: number; dead: boolean }> = [];
          const remembered = (key: string) => {
            const window = log.slice(-cap);
            for (let i = log.length - 1; i >= 0; i--) {
              const e = log[i]!;
              if (e.key !== key) continue;
              return !e.dead && window.includes(e) && t - e.at < ttl;
            }
            return false;
          };
          for (const [op, key, dt] of ops) {
            if (op === 'tick') t += dt;
            else if (op === 'delete') {
              r.delete(key);
              for (const e of log) if (e.key === key) e.dead = true;
            } else if (op === 'add') {
              r.add(key);
              log.push({ key, at: t, dead: false });
            } else {
              const expected = !remembered(key);
              expect(r.addIfNew(key)).toBe(expected);
              if (expected) log.push({ key, at: t, dead: false });
            }
            for (const k of ['a', 'b', 'c', 'd', 'e']) expect(r.has(k)).toBe(remembered(k));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

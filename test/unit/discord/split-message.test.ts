import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fenceStateAfter, planSplit, renderPart, splitMessage, type SplitPart } from '../../../adapters/discord/split-message.js';

const LIMIT = 2_000;

/** The original text, rebuilt from the verbatim bodies and what separated them. */
const rebuild = (parts: SplitPart[]): string => parts.map((p) => p.body + p.joiner).join('');

describe('splitMessage', () => {
  it('leaves a short message alone', () => {
    expect(splitMessage('hello\nworld')).toEqual(['hello\nworld']);
  });

  it('splits on line boundaries, never inside a line that fits', () => {
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i} `.padEnd(50, 'x'));
    const pieces = splitMessage(lines.join('\n'));
    expect(pieces.length).toBe(2);
    expect(pieces.every((p) => p.length <= LIMIT)).toBe(true);
    expect(pieces.join('\n')).toBe(lines.join('\n'));
  });

  it('a 3,000-character reply with a long code block: two pieces, fence closed and reopened with its language', () => {
    const intro = 'Here is the file:';
    const code = Array.from({ length: 60 }, (_, i) => `const value${i} = ${i}; // ${'c'.repeat(20)}`);
    const text = [intro, '```ts', ...code, '```', 'Done.'].join('\n');
    expect(text.length).toBeGreaterThan(2_500);
    const pieces = splitMessage(text);
    expect(pieces).toHaveLength(2);
    expect(pieces[0]?.startsWith(`${intro}\n\`\`\`ts\n`)).toBe(true);
    expect(pieces[0]?.endsWith('\n```')).toBe(true);
    expect(pieces[1]?.startsWith('```ts\n')).toBe(true);
    expect(pieces[1]?.endsWith('```\nDone.')).toBe(true);
    for (const p of pieces) expect(fenceStateAfter(p)).toBeNull();
  });

  it('moves a code block that fits whole into the next message instead of cutting it', () => {
    const prose = 'p'.repeat(1_500);
    const block = ['```py', ...Array.from({ length: 10 }, (_, i) => `print(${i})  # ${'z'.repeat(40)}`), '```'].join('\n');
    const pieces = splitMessage(`${prose}\n${block}`);
    expect(pieces).toEqual([prose, block]);
  });

  it('cuts a line longer than a message at a space, and one without spaces anywhere', () => {
    const words = Array.from({ length: 700 }, (_, i) => `w${i}`).join(' ');
    const pieces = splitMessage(words);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.every((p) => p.length <= LIMIT)).toBe(true);
    expect(pieces.join('')).toBe(words);
    expect(pieces[0]?.endsWith(' ')).toBe(true);
    const solid = 'y'.repeat(4_500);
    expect(splitMessage(solid).map((p) => p.length)).toEqual([2_000, 2_000, 500]);
  });

  it('never separates a surrogate pair', () => {
    const text = '😀'.repeat(1_500); // 3,000 UTF-16 code units
    const pieces = splitMessage(text);
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(LIMIT);
    for (const p of pieces) expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(p)).toBe(false);
  });

  it('keeps an unclosed fence unclosed in the last piece (nothing invented at the end)', () => {
    const text = ['```', ...Array.from({ length: 100 }, () => 'q'.repeat(30))].join('\n');
    const pieces = splitMessage(text);
    expect(pieces.length).toBe(2);
    expect(fenceStateAfter(pieces[0] ?? '')).toBeNull();
    expect(fenceStateAfter(pieces[1] ?? '')).not.toBeNull();
  });
});

// Realistic replies: prose, fenced code of several kinds, blank lines, very long lines, emoji.
const word = fc.oneof(
  fc.constantFrom('the', 'batch', 'reply', 'x', '😀', 'naïve', '<@123>', '**bold**', '`inline`'),
  fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom('a', 'b', 'z', '1', '_', '-', '#') }),
);
const proseLine = fc.array(word, { minLength: 0, maxLength: 30 }).map((ws) => ws.join(' '));
const longLine = fc
  .tuple(fc.array(word, { minLength: 200, maxLength: 900 }), fc.constantFrom(' ', ''))
  .map(([ws, sep]) => ws.join(sep));
const fenceLine = fc.constantFrom('```', '```ts', '```python', '~~~', '````', '  ```js', '```diff ');
const line = fc.oneof({ weight: 6, arbitrary: proseLine }, { weight: 2, arbitrary: fenceLine }, { weight: 1, arbitrary: longLine }, { weight: 1, arbitrary: fc.constant('') });
const reply = fc.array(line, { minLength: 1, maxLength: 250, size: 'large' }).map((ls) => ls.join('\n'));

describe('splitMessage properties (fast-check)', () => {
  it('every piece fits, the bodies rebuild the text exactly, and each piece has balanced fences', () => {
    fc.assert(
      fc.property(reply, (text) => {
        const parts = planSplit(text);
        const pieces = parts.map(renderPart);
        expect(splitMessage(text)).toEqual(pieces);
        for (const p of pieces) expect(p.length).toBeLessThanOrEqual(LIMIT);
        expect(rebuild(parts)).toBe(text);
        // Every piece but the last ends outside a code block; the last ends where the text ends.
        pieces.slice(0, -1).forEach((p) => expect(fenceStateAfter(p)).toBeNull());
        expect(fenceStateAfter(pieces.at(-1) ?? '') === null).toBe(fenceStateAfter(text) === null);
        // A piece reopens a fence exactly when the cut fell inside a code block.
        let prefix = '';
        parts.forEach((part, i) => {
          if (i > 0) expect(part.reopen !== null).toBe(fenceStateAfter(prefix) !== null);
          prefix += part.body + part.joiner;
        });
      }),
      { numRuns: 150 },
    );
  });

  it('any string at all: pieces fit and the text survives in order', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 9_000, unit: 'binary' }), (text) => {
        const parts = planSplit(text);
        for (const p of parts) expect(renderPart(p).length).toBeLessThanOrEqual(LIMIT);
        expect(rebuild(parts)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });
});

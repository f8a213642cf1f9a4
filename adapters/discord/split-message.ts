/** Discord rejects message content longer than this (400, code 50035). */
export const DISCORD_MESSAGE_LIMIT = 2_000;

/**
 * Fence lines we recognise: up to 3 spaces, a run of 3–16 backticks or tildes, and an info string of at
 * most 32 characters (no backticks after a backtick run, as in CommonMark). The bounds keep the cost of
 * closing and reopening a fence small and fixed, so every piece provably fits the limit; longer runs are
 * treated as plain text.
 */
const FENCE_LINE = /^( {0,3})(`{3,16}|~{3,16})(.{0,32})$/;

/** Open code fence: the line that opened it, and what closes it. */
export interface Fence {
  /** The opening line as written (indent, marker, info string), reused to reopen it in the next piece. */
  opener: string;
  char: '`' | '~';
  length: number;
}

/** The fence state after `line`, given the state before it. */
export function nextFenceState(fence: Fence | null, line: string): Fence | null {
  const m = FENCE_LINE.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
  if (!m) return fence;
  const marker = m[2] ?? '';
  const info = m[3] ?? '';
  const char = marker[0] as '`' | '~';
  if (fence) {
    // Only a bare run of the same character, at least as long as the opener, closes a fence.
    return char === fence.char && marker.length >= fence.length && info.trim() === '' ? null : fence;
  }
  if (char === '`' && info.includes('`')) return null;
  return { opener: line.endsWith('\r') ? line.slice(0, -1) : line, char, length: marker.length };
}

/** Fence state at the end of `text` (null: not inside a code block). */
export function fenceStateAfter(text: string, start: Fence | null = null): Fence | null {
  let fence = start;
  for (const line of text.split('\n')) fence = nextFenceState(fence, line);
  return fence;
}

/**
 * One piece of a split message: `body` is a verbatim slice of the original text; `reopen`/`close` are
 * fence lines added so that a code block cut in two renders as code in both messages; `joiner` is what
 * separated this body from the next one in the original (`\n` at a line break, `''` inside a long line).
 */
export interface SplitPart {
  reopen: string | null;
  body: string;
  close: string | null;
  joiner: '\n' | '';
}

/** The message text of a part. */
export function renderPart(part: SplitPart): string {
  return (part.reopen === null ? '' : `${part.reopen}\n`) + part.body + (part.close === null ? '' : `\n${part.close}`);
}

const closerOf = (fence: Fence): string => fence.char.repeat(fence.length);
const closeCost = (fence: Fence | null): number => (fence ? 1 + fence.length : 0);

/**
 * Plans how to split `text` into messages of at most `limit` characters (UTF-16 code units, which is never
 * fewer than Discord's count). Splits at line breaks, packing lines greedily; a code block that would be
 * cut but fits whole into a message of its own starts the next message instead; a block longer than a
 * message is closed at the cut and reopened (same fence and language) in the next one. A single line
 * longer than a message is cut at a space when there is one in the second half of the window.
 */
export function planSplit(text: string, limit: number = DISCORD_MESSAGE_LIMIT): SplitPart[] {
  if (limit < 200) throw new RangeError(`split limit must be at least 200 characters, got ${limit}`);
  const lines = text.split('\n');
  const blockEnd = blockEnds(lines);
  const parts: SplitPart[] = [];
  let reopen: string | null = null;
  let body: string[] = [];
  let bodyLength = 0;
  let fence: Fence | null = null;

  const header = (): number => (reopen === null ? 0 : reopen.length + 1);
  const flush = (joiner: '\n' | ''): void => {
    parts.push({ reopen, body: body.join('\n'), close: fence ? closerOf(fence) : null, joiner });
    reopen = fence ? fence.opener : null;
    body = [];
    bodyLength = 0;
  };
  const fits = (extra: number, after: Fence | null): boolean =>
    header() + bodyLength + (body.length > 0 ? 1 : 0) + extra + closeCost(after) <= limit;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const after = nextFenceState(fence, line);
    if (!fence && after && body.length > 0) {
      // A code block that would straddle two messages but fits in one starts the next message.
      const blockLength = lines.slice(i, blockEnd[i]).reduce((n, l) => n + l.length + 1, -1);
      const blockFence = blockEnd[i] === lines.length ? closeCost(after) : 0;
      if (!fits(blockLength, null) && blockLength + blockFence <= limit) flush('\n');
    }
    if (fits(line.length, after)) {
      body.push(line);
      bodyLength += (body.length > 1 ? 1 : 0) + line.length;
      fence = after;
      continue;
    }
    if (body.length > 0) {
      flush('\n');
      if (fits(line.length, after)) {
        body.push(line);
        bodyLength = line.length;
        fence = after;
        continue;
      }
    }
    // Only plain text lines get here (fence lines are short), so the fence state holds across the cut.
    let rest = line;
    for (;;) {
      const room = limit - header() - closeCost(fence);
      if (rest.length <= room) {
        body.push(rest);
        bodyLength = rest.length;
        break;
      }
      const at = cutPoint(rest, room);
      body.push(rest.slice(0, at));
      bodyLength = at;
      flush('');
      rest = rest.slice(at);
    }
  }
  parts.push({ reopen, body: body.join('\n'), close: null, joiner: '' });
  return parts;
}

/** Splits `text` into Discord messages of at most `limit` characters; see {@link planSplit}. */
export function splitMessage(text: string, limit: number = DISCORD_MESSAGE_LIMIT): string[] {
  return planSplit(text, limit).map(renderPart);
}

/** For each line that opens a fence, the index after its closing line (or the end); others map to i+1. */
function blockEnds(lines: string[]): number[] {
  const ends = lines.map((_, i) => i + 1);
  let fence: Fence | null = null;
  let openedAt = -1;
  for (let i = 0; i < lines.length; i++) {
    const after = nextFenceState(fence, lines[i] ?? '');
    if (!fence && after) openedAt = i;
    if (fence && !after) ends[openedAt] = i + 1;
    fence = after;
  }
  if (fence && openedAt >= 0) ends[openedAt] = lines.length;
  return ends;
}

/** Where to cut a too-long line: at a space in the second half of the window, never inside a surrogate pair, never so the rest starts like a fence. */
function cutPoint(line: string, room: number): number {
  let at = room;
  const space = line.lastIndexOf(' ', room - 1);
  if (space >= room / 2) at = space + 1;
  const safe = (p: number): boolean => !isLowSurrogate(line.charCodeAt(p)) && !/^ {0,3}(`{3}|~{3})/.test(line.slice(p));
  for (let p = at; p > at - 40 && p > 0; p--) if (safe(p)) return p;
  return isLowSurrogate(line.charCodeAt(at)) ? at - 1 : at;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

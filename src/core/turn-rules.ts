import type { HoldCause } from './events.js';
import { flushOnRegex, type ChannelSettings } from './policy.js';

/**
 * What one message says about the turn, for the store that appends it: `fenceOdd` when it holds an odd
 * number of ``` fences (so it opens or closes a code block), `rule` the content rule its own text
 * matches (trailing colon, ellipsis, phrase), `flush` when it matches a `flushOn` entry. Both engines
 * evaluate the same function; the Redis store passes the answer to its append script, which keeps the
 * batch's fence parity beside the window, so the hold decision and the seal stay one step.
 */
export interface MessageTurn {
  fenceOdd: boolean;
  rule: TextRule | null;
  flush: boolean;
}

export type TextRule = Extract<HoldCause, 'trailingColon' | 'ellipsis' | 'phrase'>;

const NOTHING: MessageTurn = Object.freeze({ fenceOdd: false, rule: null, flush: false });

type HoldSettings = ChannelSettings['hold'];

/** The hold settings compiled once per settings object (policies and overrides hand out the same objects). */
interface CompiledHold {
  fence: boolean;
  colon: boolean;
  ellipsis: boolean;
  phrases: string[];
  /** Length of the longest phrase. */
  longest: number;
  /** Last characters of the phrases, both cases: most texts are turned away on their last character. */
  lastChars: Set<number>;
}

const compiledHolds = new WeakMap<HoldSettings, CompiledHold>();
const compiledFlushOn = new WeakMap<readonly string[], Array<(text: string) => boolean>>();

/** The last compiled pair: a channel's messages come with the same settings object, so most calls stop here. */
let lastHold: HoldSettings | null = null;
let lastCompiled: CompiledHold | null = null;

function compileHold(hold: HoldSettings): CompiledHold {
  if (hold === lastHold) return lastCompiled!;
  let c = compiledHolds.get(hold);
  if (c === undefined) {
    const phrases = hold.rules.includes('phrases') ? hold.phrases.map((p) => p.toLowerCase()) : [];
    c = {
      fence: hold.rules.includes('openFence'),
      colon: hold.rules.includes('trailingColon'),
      ellipsis: hold.rules.includes('ellipsis'),
      phrases,
      longest: Math.max(0, ...phrases.map((p) => p.length)),
      lastChars: new Set(phrases.flatMap((p) => [p.charCodeAt(p.length - 1), p.toUpperCase().charCodeAt(p.length - 1)])),
    };
    compiledHolds.set(hold, c);
  }
  lastHold = hold;
  lastCompiled = c;
  return c;
}

const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /[\p{L}\p{N}_]/u.test(ch);

/** True when `needle` occurs in `hay` with no letter or digit right before or after it. */
function containsWord(hay: string, needle: string): boolean {
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) {
    if (!isWordChar(hay[at - 1]) && !isWordChar(hay[at + needle.length])) return true;
  }
  return false;
}

function compileFlushOn(entries: readonly string[]): Array<(text: string) => boolean> {
  let c = compiledFlushOn.get(entries);
  if (c === undefined) {
    c = entries.map((entry) => {
      const re = flushOnRegex(entry);
      if (re !== null) return (text: string) => {
        re.lastIndex = 0;
        return re.test(text);
      };
      const word = entry.toLowerCase();
      return (text: string) => containsWord(text.toLowerCase(), word);
    });
    compiledFlushOn.set(entries, c);
  }
  return c;
}

/** Counts ``` fences in `text`. */
function fences(text: string): number {
  let n = 0;
  for (let at = text.indexOf('```'); at >= 0; at = text.indexOf('```', at + 3)) n++;
  return n;
}

/** Trailing space and punctuation a phrase match ignores ("hold on..." and "brb!" end with their phrase). */
function isTrailing(code: number): boolean {
  return code <= 0x20 || (code >= 0x21 && code <= 0x2f) || (code >= 0x3a && code <= 0x40) || (code >= 0x5b && code <= 0x60 && code !== 0x5f) || (code >= 0x7b && code <= 0x7e) || code === 0x2026 || code === 0xa0;
}

/** The content rule the message's own text matches, or null. Looks only at the text's tail: no copy of the whole text. */
function textRule(text: string, c: CompiledHold): TextRule | null {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) <= 0x20) end--;
  if (end === 0) return null;
  const last = text.charCodeAt(end - 1);
  if (c.colon && last === 0x3a) return 'trailingColon';
  if (c.ellipsis && (last === 0x2026 || (last === 0x2e && text.startsWith('...', end - 3)))) return 'ellipsis';
  if (c.phrases.length === 0) return null;
  while (end > 0 && isTrailing(text.charCodeAt(end - 1))) end--;
  if (end === 0 || !c.lastChars.has(text.charCodeAt(end - 1))) return null;
  const tail = text.slice(Math.max(0, end - c.longest - 1), end).toLowerCase();
  for (const p of c.phrases) {
    if (tail.endsWith(p) && !isWordChar(tail[tail.length - p.length - 1])) return 'phrase';
  }
  return null;
}

/** Evaluates one message against the channel's `hold` and `flushOn` settings. */
export function messageTurn(text: string, settings: ChannelSettings): MessageTurn {
  const hold = compileHold(settings.hold);
  const flushOn = settings.flushOn;
  const flush = flushOn.length > 0 && compileFlushOn(flushOn).some((test) => test(text));
  const fenceOdd = hold.fence && fences(text) % 2 === 1;
  const rule = textRule(text, hold);
  if (!flush && !fenceOdd && rule === null) return NOTHING;
  return { fenceOdd, rule, flush };
}

/** Why the batch is held after a message: a code block left open across the batch wins over the message's own rule. */
export function holdCauseOf(fenceOpen: boolean, rule: TextRule | null): HoldCause | null {
  return fenceOpen ? 'openFence' : rule;
}

/** The window after the batch's latest message: `holdMs` while it looks unfinished (never shorter than the window). */
export function windowOf(settings: ChannelSettings, held: boolean): number {
  return held ? Math.max(settings.windowMs, settings.hold.holdMs) : settings.windowMs;
}

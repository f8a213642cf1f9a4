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
}

const compiledHolds = new WeakMap<HoldSettings, CompiledHold>();
const compiledFlushOn = new WeakMap<readonly string[], Array<(text: string) => boolean>>();

function compileHold(hold: HoldSettings): CompiledHold {
  let c = compiledHolds.get(hold);
  if (c === undefined) {
    c = {
      fence: hold.rules.includes('openFence'),
      colon: hold.rules.includes('trailingColon'),
      ellipsis: hold.rules.includes('ellipsis'),
      phrases: hold.rules.includes('phrases') ? hold.phrases.map((p) => p.toLowerCase()) : [],
    };
    compiledHolds.set(hold, c);
  }
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

/** Trailing punctuation and space a phrase match ignores ("hold on..." and "brb!" end with their phrase). */
const TRAILING = /[\s\p{P}]+$/u;

/** The content rule the message's own text matches, or null. */
function textRule(text: string, c: CompiledHold): TextRule | null {
  const end = text.trimEnd();
  if (end === '') return null;
  if (c.colon && end.endsWith(':')) return 'trailingColon';
  if (c.ellipsis && (end.endsWith('...') || end.endsWith('…'))) return 'ellipsis';
  if (c.phrases.length > 0) {
    const bare = end.replace(TRAILING, '').toLowerCase();
    for (const p of c.phrases) {
      if (bare.endsWith(p) && !isWordChar(bare[bare.length - p.length - 1])) return 'phrase';
    }
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

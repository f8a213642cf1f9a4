/**
 * A reply stream a test feeds piece by piece, for `ctx.reply(feed.stream())` in a module processor: the
 * generator yields each pushed piece, waits while none is queued, and returns after `end()`. `returned()`
 * tells that the reader let go of it (the reply finished, or its batch was cancelled).
 */
export interface StreamFeed {
  push(piece: string): void;
  end(): void;
  stream(): AsyncGenerator<string>;
  returned(): boolean;
}

export function streamFeed(): StreamFeed {
  const pieces: string[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let returned = false;
  const push = (piece: string) => {
    pieces.push(piece);
    wake?.();
  };
  const end = () => {
    ended = true;
    wake?.();
  };
  async function* stream(): AsyncGenerator<string> {
    try {
      for (;;) {
        while (pieces.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
        if (pieces.length === 0) return;
        yield pieces.shift()!;
      }
    } finally {
      returned = true;
    }
  }
  return { push, end, stream, returned: () => returned };
}

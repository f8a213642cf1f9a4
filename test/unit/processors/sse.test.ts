import { describe, expect, it } from 'vitest';
import { sseData } from '../../../src/processors/openai/sse.js';

async function collect(pieces: Array<string | Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of sseData((async function* () {
    yield* pieces;
  })())) out.push(data);
  return out;
}

describe('sseData', () => {
  it('joins lines split across network chunks, in any of the three line endings', async () => {
    expect(await collect(['data: {"a"', ':1}\n\nda', 'ta: [DONE]\n\n'])).toEqual(['{"a":1}', '[DONE]']);
    expect(await collect(['data: one\r\n\r\ndata: two\r', '\n\r\n'])).toEqual(['one', 'two']);
    expect(await collect(['data: one\r\rdata: two\r\r'])).toEqual(['one', 'two']);
  });

  it('decodes a UTF-8 character split between chunks', async () => {
    const bytes = Buffer.from('data: ✓ done\n\n');
    expect(await collect([bytes.subarray(0, 8), bytes.subarray(8)])).toEqual(['✓ done']);
  });

  it('joins the data lines of one event, skips comments and other fields, and ends an unterminated last event', async () => {
    expect(await collect([': keep-alive\n', 'event: x\nid: 3\ndata: line 1\ndata:line 2\n\n', 'data: tail'])).toEqual(['line 1\nline 2', 'tail']);
  });
});

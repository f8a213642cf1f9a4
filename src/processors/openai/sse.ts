/**
 * The `data:` payloads of a `text/event-stream` body, in order (WHATWG server-sent events: lines end in
 * LF, CR or CRLF, and may be split anywhere across network chunks, even inside a UTF-8 sequence; an
 * event's `data` lines join with LF and a blank line ends it; comments and other fields are skipped).
 */
export async function* sseData(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let pendingCr = false;
  const takeLine = function* (line: string): Generator<string> {
    if (line === '') {
      if (data.length > 0) yield data.join('\n');
      data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'data') return;
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    data.push(value);
  };
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c === 10 && pendingCr && i === start) {
        // The LF of a CRLF whose CR ended the previous piece.
        start = i + 1;
        pendingCr = false;
        continue;
      }
      pendingCr = false;
      if (c !== 10 && c !== 13) continue;
      yield* takeLine(buffer.slice(start, i));
      if (c === 13) {
        if (buffer.charCodeAt(i + 1) === 10) i++;
        else if (i + 1 === buffer.length) pendingCr = true;
      }
      start = i + 1;
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer !== '') yield* takeLine(buffer);
  yield* takeLine('');
}

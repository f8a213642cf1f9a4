/**
 * Splits text into parts of at most `limit` UTF-16 code units, in order, losing nothing but the whitespace
 * at each cut. It cuts at the last paragraph break, else line break, else space in the second half of the
 * window, else hard at `limit`; a hard cut never splits a surrogate pair (an emoji stays whole).
 */
export function splitText(text: string, limit: number): string[] {
  if (limit < 2) throw new RangeError(`splitText limit must be at least 2 (got ${limit})`);
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    const floor = Math.floor(limit / 2);
    let cut = -1;
    for (const sep of ['\n\n', '\n', ' ']) {
      const at = window.lastIndexOf(sep);
      if (at >= floor) {
        cut = at;
        break;
      }
    }
    let head: string;
    if (cut >= 0) {
      head = rest.slice(0, cut);
      rest = rest.slice(cut).replace(/^\s+/, '');
    } else {
      let end = limit;
      const code = rest.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) end--; // high surrogate: keep the pair together
      head = rest.slice(0, end);
      rest = rest.slice(end);
    }
    head = head.replace(/\s+$/, '');
    if (head) parts.push(head);
  }
  if (rest.trim() || parts.length === 0) parts.push(rest);
  return parts;
}

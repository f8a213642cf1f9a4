/**
 * One line of at most `maxChars` characters for a terminal: runs of whitespace (newlines included)
 * become one space, and a longer text is cut with `…`. Cuts between code points, never inside one.
 */
export function shorten(text: string, maxChars = 120): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const chars = Array.from(line);
  return chars.length <= maxChars ? line : `${chars.slice(0, maxChars - 1).join('')}…`;
}

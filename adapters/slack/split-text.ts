import { splitText as splitPlainText } from '../split-text.js';

/**
 * Longest `text` one `chat.postMessage` carries. Slack truncates `text` past 40,000 characters and
 * recommends at most 4,000; long plain text is also shown as a section block, which Slack caps at 3,000.
 * So 3,000 keeps every part whole everywhere.
 */
export const SLACK_TEXT_LIMIT = 3_000;

/** {@link splitPlainText} at Slack's limit unless told otherwise. */
export function splitText(text: string, limit: number = SLACK_TEXT_LIMIT): string[] {
  return splitPlainText(text, limit);
}

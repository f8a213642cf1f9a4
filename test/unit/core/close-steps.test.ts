import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { runCloseSteps } from '../../../src/core/close-steps.js';
import { MessageQueue } from '../../../src/core/message-queue.js';

describe('runCloseSteps', () => {
  it('runs every step in order past one that throws or rejects, and logs each failure with its step', async () => {
    const lines: Array<{ step: string; msg: string }> = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const ran: string[] = [];
    await runCloseSteps(logger, [
        ['a', () => void ran.push('a')],
        ['b', () => {
          throw new Error('b broke');
        }],
        ['c', async () => {
          ran.push('c');
          throw new Error('c broke');
        }],
        ['d', () => void ran.push('d')],
    ]);
    expect(ran).toEqual(['a', 'c', 'd']);
    expect(lines.map((l) => l.step)).toEqual(['b', 'c']);
  });

  it('MessageQueue.close is memoized: a second call gets the same promise', async () => {
    const queue = new MessageQueue({ processor: async () => {}, onReply: () => {} });
    const first = queue.close();
    expect(queue.close()).toBe(first);
    await first;
  });
});

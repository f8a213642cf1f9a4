import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { matchesFilters, WILDCARD, type ConsumerFilters, type FilterQuery } from '../../../src/bus/filters.js';

describe('matchesFilters', () => {
  const table: Array<[string, ConsumerFilters, FilterQuery, boolean]> = [
    ['equal value', { platform: 'discord' }, { platform: 'discord' }, true],
    ['different value', { platform: 'discord' }, { platform: 'slack' }, false],
    ['every key must match', { platform: 'discord', kind: 'reply' }, { platform: 'discord', kind: 'typing' }, false],
    ['all keys match', { platform: 'discord', kind: 'reply' }, { platform: 'discord', kind: 'reply' }, true],
    ['extra stored keys are fine', { platform: 'discord', kind: 'reply' }, { platform: 'discord' }, true],
    ['queried key the consumer lacks', { platform: 'discord' }, { guild: 'g1' }, false],
    ['stored wildcard matches any value', { platform: WILDCARD }, { platform: 'slack' }, true],
    ['queried wildcard matches any stored value', { platform: 'discord' }, { platform: WILDCARD }, true],
    ['queried wildcard matches a missing key', {}, { platform: WILDCARD }, true],
    ['wildcard on both sides', { platform: WILDCARD }, { platform: WILDCARD }, true],
    ['stored list holding the value', { platform: ['discord', 'slack'] }, { platform: 'slack' }, true],
    ['stored list without the value', { platform: ['discord', 'slack'] }, { platform: 'web' }, false],
    ['stored list holding the wildcard', { platform: ['discord', WILDCARD] }, { platform: 'web' }, true],
    ['queried wildcard against a list', { platform: ['discord'] }, { platform: WILDCARD }, true],
    ['empty stored list', { platform: [] }, { platform: 'web' }, false],
    ['empty query matches anything', { platform: 'discord' }, {}, true],
    ['empty query matches empty filters', {}, {}, true],
    ['numbers compare strictly (1 is not true)', { shard: true }, { shard: 1 }, false],
    ['number equal', { shard: 1 }, { shard: 1 }, true],
    ['number in list', { shard: [0, 1] }, { shard: 1 }, true],
  ];

  it.each(table)('%s', (_name, stored, query, expected) => {
    expect(matchesFilters(stored, query)).toBe(expected);
  });

  it('WILDCARD is "*"', () => {
    expect(WILDCARD).toBe('*');
  });
});

describe('channel.getConsumers(query)', () => {
  it('returns the consumers whose filters match, in registration order', async () => {
    const channel = new Channel<string>({ name: 'replies' });
    const discord = channel.newConsumer(() => {}, { name: 'discord', filters: { platform: 'discord' } });
    const slack = channel.newConsumer(() => {}, { name: 'slack', filters: { platform: 'slack' } });
    const both = channel.newConsumer(() => {}, { name: 'both', filters: { platform: ['discord', 'slack'] } });
    const any = channel.newConsumer(() => {}, { name: 'any', filters: { platform: WILDCARD } });
    const none = channel.newConsumer(() => {}, { name: 'none' });

    const names = (query?: FilterQuery): string[] => channel.getConsumers(query).map((c) => c.name);
    expect(names({ platform: 'discord' })).toEqual(['discord', 'both', 'any']);
    expect(names({ platform: 'web' })).toEqual(['any']);
    expect(names({ platform: WILDCARD })).toEqual(['discord', 'slack', 'both', 'any', 'none']);
    expect(names({})).toEqual(['discord', 'slack', 'both', 'any', 'none']);
    expect(names()).toEqual(['discord', 'slack', 'both', 'any', 'none']);
    expect([discord, slack, both, any, none].every((c) => c.channel === channel)).toBe(true);
    await channel.stop();
  });
});

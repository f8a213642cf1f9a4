import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { ChannelRegistry } from '../../../src/bus/registry.js';
import { LifecycleError } from '../../../src/errors.js';
import type { QueueEvent } from '../../../src/core/events.js';
import type { OutboundMessage } from '../../../src/core/model.js';

type GatewayChannels = { replies: OutboundMessage; events: QueueEvent };

describe('ChannelRegistry', () => {
  it('maps names to channels, per instance (two gateways never share a channel)', async () => {
    const a = new ChannelRegistry<GatewayChannels>();
    const b = new ChannelRegistry<GatewayChannels>();
    const repliesA = a.set(new Channel<OutboundMessage>({ name: 'replies' }));
    const repliesB = b.set(new Channel<OutboundMessage>({ name: 'replies' }));
    expect(a.get('replies')).toBe(repliesA);
    expect(b.get('replies')).toBe(repliesB);
    expect(repliesA).not.toBe(repliesB);
    expect(a.find('events')).toBeUndefined();
    expect(() => a.get('events')).toThrow(LifecycleError);
    expect(() => a.set(new Channel<OutboundMessage>({ name: 'replies' }))).toThrow(/already exists/);
    a.set(new Channel<QueueEvent>(), 'events');
    expect(a.names()).toEqual(['replies', 'events']);
    expect(a.delete('events')).toBe(true);
    expect(a.has('events')).toBe(false);
    await a.stop();
    await b.stop();
  });

  it('groups channels by chanId with the *_at_id look-ups', async () => {
    const registry = new ChannelRegistry();
    const g1 = registry.setAtId(new Channel<string>({ name: 'replies', chanId: 'gw-1' }));
    const g2 = registry.setAtId(new Channel<string>({ name: 'replies' }), 'gw-2');
    const g1Events = registry.setAtId(new Channel<number>({ name: 'events', chanId: 'gw-1' }));
    expect(registry.getAtId('replies', 'gw-1')).toBe(g1);
    expect(registry.getAtId('replies', 'gw-2')).toBe(g2);
    expect([...registry.getChannels('gw-1').keys()]).toEqual(['replies', 'events']);
    expect(registry.getChannels('gw-1').get('events')).toBe(g1Events);
    expect(registry.ids()).toEqual(['gw-1', 'gw-2']);
    expect(() => registry.setAtId(new Channel<string>({ name: 'replies', chanId: 'gw-1' }))).toThrow(/already exists at gw-1/);
    expect(() => registry.setAtId(new Channel<string>({ name: 'nochan' }))).toThrow(/no chanId/);
    expect(() => registry.getAtId('replies', 'gw-3')).toThrow(LifecycleError);
    expect(registry.findAtId('replies', 'gw-3')).toBeUndefined();
    expect(() => registry.getChannels('gw-3')).toThrow(LifecycleError);

    expect(registry.deleteAtId('replies', 'gw-2')).toBe(true);
    expect(registry.findAtId('replies', 'gw-2')).toBeUndefined();
    expect(registry.deleteContainer('gw-1')).toBe(true);
    expect(registry.ids()).toEqual(['gw-2']);
    await registry.stop();
  });

  it('start and stop reach every channel; stop is idempotent', async () => {
    const registry = new ChannelRegistry<GatewayChannels>();
    const replies = registry.set(new Channel<OutboundMessage>({ name: 'replies' }));
    const events = registry.setAtId(new Channel<QueueEvent>({ name: 'events' }), 'gw-1');
    await registry.start();
    expect(replies.isStarted && events.isStarted).toBe(true);
    const first = registry.stop();
    expect(registry.stop()).toBe(first);
    await first;
    expect(replies.isStopped && events.isStopped).toBe(true);
  });
});

import { describe, expectTypeOf, it } from 'vitest';
import {
  Channel,
  ChannelRegistry,
  Consumer,
  InternalConsumer,
  Producer,
  SupervisedConsumer,
  type ConsumerStats,
} from '../../src/bus/index.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { OutboundMessage } from '../../src/core/model.js';

type Reply = OutboundMessage;
declare const replies: Channel<Reply>;
declare const reply: Reply;
declare const event: QueueEvent;

describe('Channel<Reply>', () => {
  it('producers accept only Reply', () => {
    expectTypeOf(replies.internalProducer).toEqualTypeOf<Producer<Reply>>();
    expectTypeOf(replies.internalProducer.send).parameter(0).toEqualTypeOf<Reply>();
    expectTypeOf(replies.internalProducer.push).parameter(0).toEqualTypeOf<Reply>();
    expectTypeOf(replies.internalProducer.send(reply)).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error a queue event is not a reply
    void replies.internalProducer.send(event);
    // @ts-expect-error a partial reply is not a reply
    void replies.internalProducer.send({ text: 'hi' });
  });

  it('consumers are handed Reply', () => {
    replies.newConsumer((data) => {
      expectTypeOf(data).toEqualTypeOf<Reply>();
    });
    expectTypeOf(replies.newConsumer(async () => {})).toEqualTypeOf<Consumer<Reply>>();
    expectTypeOf(replies.consumers).toEqualTypeOf<readonly Consumer<Reply>[]>();
    // @ts-expect-error a callback for another payload does not fit
    replies.newConsumer((e: QueueEvent) => void e.type);
  });

  it('is invariant: neither a wider nor a narrower channel fits', () => {
    expectTypeOf<Channel<Reply>>().not.toMatchTypeOf<Channel<Reply & { extra: true }>>();
    expectTypeOf<Channel<Reply & { extra: true }>>().not.toMatchTypeOf<Channel<Reply>>();
    expectTypeOf<Channel<Reply>>().not.toMatchTypeOf<Channel<unknown>>();
  });

  it('producer and consumer subclasses are bound to the payload type', () => {
    class ReplyProducer extends Producer<Reply> {}
    class Counter extends InternalConsumer<Reply> {
      protected internalCallback(data: Reply): void {
        expectTypeOf(data).toEqualTypeOf<Reply>();
      }
    }
    expectTypeOf(replies.registerProducer(new ReplyProducer(replies))).toEqualTypeOf<ReplyProducer>();
    expectTypeOf(replies.addConsumer(new Counter())).toEqualTypeOf<Counter>();
    expectTypeOf(replies.addConsumer(new SupervisedConsumer<Reply>(() => {})).idle).toEqualTypeOf<Promise<void>>();
    const events = new Channel<QueueEvent>();
    // @ts-expect-error a reply producer cannot serve the events channel
    new ReplyProducer(events);
    // @ts-expect-error a reply consumer cannot join the events channel
    events.addConsumer(new Counter());
  });

  it('stats are plain numbers for metrics', () => {
    expectTypeOf(replies.stats()).toEqualTypeOf<ConsumerStats[]>();
    expectTypeOf<ConsumerStats['dropped']>().toEqualTypeOf<number>();
  });
});

describe('ChannelRegistry<Map>', () => {
  it('look-ups come back typed by name', () => {
    const registry = new ChannelRegistry<{ replies: Reply; events: QueueEvent }>();
    expectTypeOf(registry.get('replies')).toEqualTypeOf<Channel<Reply>>();
    expectTypeOf(registry.getAtId('events', 'gw-1')).toEqualTypeOf<Channel<QueueEvent>>();
    // @ts-expect-error unknown channel name
    registry.get('nope');
    // @ts-expect-error the events name takes a channel of queue events
    registry.set(replies, 'events');
  });
});

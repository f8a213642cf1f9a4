/** The in-process channel bus: typed channels, producers and consumers (parity with OctoBot's async_channel). */
export { Channel, defaultChannelName } from './channel.js';
export type { ChannelOptions, ChannelStopOptions, NewConsumerOptions, RegisterOptions } from './channel.js';
export { Producer } from './producer.js';
export { Consumer } from './consumer.js';
export type { ConsumerCallback, ConsumerOptions, ConsumerStats, ConsumerStopOptions } from './consumer.js';
export { SupervisedConsumer } from './supervised-consumer.js';
export { InternalConsumer } from './internal-consumer.js';
export { WILDCARD, matchesFilters } from './filters.js';
export type { ConsumerFilters, FilterQuery, FilterValue } from './filters.js';
export { Priority, PRIORITY_ORDER, keepsProducersRunning, priorityName } from './priority.js';
export { ChannelRegistry } from './registry.js';
export { RoomWaiters } from './room-waiters.js';
export type { ChannelTypes } from './registry.js';

/** The public surface of batchgate, by name. Internals stay unexported. */
export { createGateway, Gateway, type GatewayOptions, type ShutdownReport, type GatewayChannels } from './gateway.js';
export { MessageQueue, type MessageQueueOptions, type EnqueueResult } from './core/message-queue.js';
export { MessageBatch, type QueuedMessage, type OutboundMessage, type FlushReason } from './core/model.js';
export { SettingsPolicy, DEFAULT_SETTINGS, type ChannelSettings, type SettingsOverride } from './core/policy.js';
export type { BatchStore, ChannelStats } from './core/batch-store.js';
export type { BatchingEngine, HoldReason, HoldResult } from './core/engine.js';
export { InMemoryBatchStore } from './core/memory-batch-store.js';
export { QueueEventType, type QueueEvent } from './core/events.js';
export * from './errors.js';
export type { Processor, ProcessContext, ReplyInput } from './processors/processor.js';
export { echoProcessor } from './processors/echo.js';
export { createHttpProcessor } from './processors/http.js';
export type { PlatformAdapter, AdapterContext, AcceptResult, InboundMessage } from '../adapters/adapter.js';
export { configSchema, type GatewayConfig, type GatewayConfigInput } from './config/schema.js';
export { loadConfig, parseConfig } from './config/load.js';
export { createLogger } from './logger.js';

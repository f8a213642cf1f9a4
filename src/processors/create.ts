import type { ProcessorConfig } from '../config/schema.js';
import { echoProcessor } from './echo.js';
import { createHttpProcessor, type HttpSteer } from './http.js';
import { loadModuleProcessor } from './module.js';
import { MemoryConversationHistory, type ConversationHistory } from './conversation-history.js';
import { createOpenAiProcessor } from './openai/openai-processor.js';
import type { Processor } from './processor.js';

/** What a processor may keep outside itself. */
export interface ProcessorServices {
  /** Where the `openai` processor keeps its turns (Redis in distributed mode). @defaultValue in memory */
  history?: ConversationHistory;
  /** Where this process serves the HTTP processor's steer takes (steer mode). @defaultValue no steering over HTTP */
  steer?: HttpSteer;
}

/** Builds the processor the config names. */
export async function createProcessor(config: ProcessorConfig, baseDir?: string, services: ProcessorServices = {}): Promise<Processor> {
  switch (config.type) {
    case 'echo':
      return echoProcessor;
    case 'module':
      return loadModuleProcessor(config.path, baseDir);
    case 'http':
      return createHttpProcessor({
        url: config.url,
        timeoutMs: config.timeoutMs,
        secret: config.secret,
        attempts: config.attempts,
        ...(services.steer !== undefined ? { steer: services.steer } : {}),
      });
    case 'openai': {
      const { type: _type, ...options } = config;
      return createOpenAiProcessor(options, services.history ?? new MemoryConversationHistory());
    }
  }
}

import type { ProcessorConfig } from '../config/schema.js';
import { echoProcessor } from './echo.js';
import { createHttpProcessor } from './http.js';
import { loadModuleProcessor } from './module.js';
import type { Processor } from './processor.js';

/** Builds the processor the config names. */
export async function createProcessor(config: ProcessorConfig, baseDir?: string): Promise<Processor> {
  switch (config.type) {
    case 'echo':
      return echoProcessor;
    case 'module':
      return loadModuleProcessor(config.path, baseDir);
    case 'http':
      return createHttpProcessor({ url: config.url, timeoutMs: config.timeoutMs, secret: config.secret, attempts: config.attempts });
  }
}

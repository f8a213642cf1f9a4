import { loadConfig } from '../config/load.js';

/** Loads the config for a CLI command; on failure writes why to stderr and returns null (exit 1). */
export async function loadConfigOrReport(configPath?: string): Promise<Awaited<ReturnType<typeof loadConfig>> | null> {
  try {
    return await loadConfig(configPath);
  } catch (err) {
    process.stderr.write(`batchgate: ${(err as Error).message}\n`);
    return null;
  }
}

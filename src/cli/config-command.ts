import { stringify as toYaml } from 'yaml';
import { hideSecrets } from '../config/redact.js';
import { DEFAULT_SETTINGS } from '../core/policy.js';
import { loadConfigOrReport } from './load-config.js';

/**
 * `batchgate config`: loads the config exactly as `start` would (file, `${VAR}`s, environment overrides,
 * defaults) and prints the effective result with credentials hidden, or every failing path and exit 1.
 * Operators use it to check a file before a restart and to see what a setup is given.
 */
export async function runConfigCommand(configPath: string | undefined, json: boolean): Promise<number> {
  const loaded = await loadConfigOrReport(configPath);
  if (!loaded) return 1;
  const { config } = loaded;
  // The settings a channel gets when nothing overrides them: the file's defaults over the built-in ones.
  const effective = { ...config, batching: { ...config.batching, defaults: { ...DEFAULT_SETTINGS, ...config.batching.defaults } } };
  const shown = hideSecrets(effective);
  process.stdout.write(json ? `${JSON.stringify(shown, null, 2)}\n` : `# ${loaded.path}: valid; the effective configuration (defaults filled in, secrets hidden)\n${toYaml(shown)}`);
  return 0;
}

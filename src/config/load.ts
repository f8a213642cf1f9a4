import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError, type FieldIssue } from '../errors.js';
import { configSchema, type GatewayConfig } from './schema.js';

export const DEFAULT_CONFIG_PATH = 'config/default.yaml';

/**
 * The package's own `config/default.yaml`: the nearest folder above this module holding a package.json
 * (the repository, or `node_modules/batchgate` when installed). Found by walking up because this module
 * runs from `src/config/` in the repository and from `dist/src/config/` once compiled.
 */
function packageDefaultConfig(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, DEFAULT_CONFIG_PATH);
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * `--config`, else `BATCHGATE_CONFIG`, else `config/default.yaml` in the working directory, else (a project
 * that installed batchgate and has no config of its own, `npx batchgate start`) the package's default.
 */
function configFile(configPath: string | undefined, env: Env): string {
  const explicit = configPath ?? env.BATCHGATE_CONFIG;
  if (explicit !== undefined) return path.resolve(explicit);
  const local = path.resolve(DEFAULT_CONFIG_PATH);
  return existsSync(local) ? local : (packageDefaultConfig() ?? local);
}

type Env = Record<string, string | undefined>;

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed document (unset → default or ''). */
export function interpolate(value: unknown, env: Env): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      return v !== undefined && v !== '' ? v : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

/** The environment variables that override config keys (docs/configuration.md). */
function applyEnvOverrides(doc: Record<string, any>, env: Env): Record<string, any> {
  const out = structuredClone(doc);
  const set = (section: string, key: string, value: string | undefined) => {
    if (value === undefined || value === '') return;
    out[section] = { ...(out[section] ?? {}), [key]: value };
  };
  set('http', 'port', env.PORT);
  set('http', 'host', env.HOST);
  set('redis', 'url', env.REDIS_URL);
  set('admin', 'token', env.BATCHGATE_ADMIN_TOKEN);
  set('log', 'level', env.LOG_LEVEL);
  return out;
}

/**
 * Keys whose default is an environment variable (`adapters.discord.token` is `${DISCORD_TOKEN}` unless the file sets it). Unlike
 * the overrides above, a value the document sets wins.
 */
const ENV_DEFAULTS: ReadonlyArray<{ adapter: string; key: string; variable: string }> = [
  { adapter: 'discord', key: 'token', variable: 'DISCORD_TOKEN' },
  { adapter: 'slack', key: 'botToken', variable: 'SLACK_BOT_TOKEN' },
  { adapter: 'slack', key: 'signingSecret', variable: 'SLACK_SIGNING_SECRET' },
  { adapter: 'slack', key: 'appToken', variable: 'SLACK_APP_TOKEN' },
  { adapter: 'telegram', key: 'token', variable: 'TELEGRAM_BOT_TOKEN' },
];

function applyEnvDefaults(doc: Record<string, any>, env: Env): Record<string, any> {
  let out = doc;
  for (const { adapter, key, variable } of ENV_DEFAULTS) {
    const value = env[variable];
    const adapters = out.adapters ?? {};
    const section = adapters[adapter] ?? {};
    // Anything but a mapping is left for the schema to reject with its path.
    if (!value || !isMapping(adapters) || !isMapping(section) || section[key] !== undefined) continue;
    out = { ...out, adapters: { ...adapters, [adapter]: { ...section, [key]: value } } };
  }
  return out;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a parsed document; an invalid one throws a ConfigError naming every failing path. */
export function parseConfig(doc: unknown, env: Env = process.env, source = 'config'): GatewayConfig {
  const raw = doc ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${source}: the top level must be a mapping of keys`, [{ path: '', message: 'expected a mapping' }]);
  }
  const withEnv = applyEnvDefaults(applyEnvOverrides(interpolate(raw, env) as Record<string, any>, env), env);
  const result = configSchema.safeParse(withEnv);
  if (!result.success) {
    const issues: FieldIssue[] = result.error.issues.map((i) => ({
      path: i.path.map(String).join('.'),
      message: i.message,
    }));
    throw new ConfigError(`invalid configuration in ${source}:\n${z.prettifyError(result.error)}`, issues, result.error);
  }
  return result.data;
}

/**
 * Reads `--config`, else `BATCHGATE_CONFIG`, else config/default.yaml (the working directory's, else the
 * package's); relative paths resolve from the cwd.
 */
export async function loadConfig(configPath?: string, env: Env = process.env): Promise<{ config: GatewayConfig; path: string }> {
  const file = configFile(configPath, env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, [], err);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    throw new ConfigError(`config file ${file} is not valid YAML${where}: ${(err as Error).message}`, [], err);
  }
  return { config: parseConfig(doc, env, file), path: file };
}

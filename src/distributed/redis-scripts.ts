import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';

/** Steps that run with lib.lua in front of them (channel and shard scripts). */
const STEP_SCRIPTS = [
  'append',
  'seal-due',
  'seal-all',
  'seal',
  'push-front',
  'restore',
  'take',
  'finish',
  'interrupt',
  'release',
  'steer',
  'pause',
  'resume',
  'disarm',
  'hold',
  'typing',
  'clear',
  'drain',
  'set-override',
  'delete-override',
  'stats',
  'list',
  'mark-enqueued',
  'claim',
  'publish-reply',
  'ack',
  'fail-finally',
  'in-flight-before',
  'change',
] as const;

export type StepScript = (typeof STEP_SCRIPTS)[number] | 'generation';

type ScriptCall = (numKeys: number, ...args: string[]) => Promise<unknown>;

async function source(name: string): Promise<string> {
  return readFile(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

/**
 * The store's Lua scripts, defined on one ioredis client. `defineCommand` sends EVALSHA and falls back to
 * EVAL on NOSCRIPT (a restarted Redis, `SCRIPT FLUSH`), so nothing here reloads scripts by hand.
 */
export class StoreScripts {
  private constructor(
    private readonly redis: Redis,
    private readonly commands: ReadonlyMap<StepScript, string>,
  ) {}

  static async load(redis: Redis): Promise<StoreScripts> {
    const lib = await source('lib');
    const commands = new Map<StepScript, string>();
    const define = (name: StepScript, lua: string) => {
      const command = `bg_${name.replace(/-/g, '_')}`;
      // numberOfKeys left out: every call passes its key count first.
      redis.defineCommand(command, { lua });
      commands.set(name, command);
    };
    for (const name of STEP_SCRIPTS) define(name, `${lib}\n${await source(name)}`);
    define('generation', await source('generation'));
    return new StoreScripts(redis, commands);
  }

  /** Runs a script: one EVALSHA (or EVAL the first time on a connection) and its reply. */
  run(name: StepScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, ScriptCall>)[this.commands.get(name)!]!;
    return command.call(this.redis, keys.length, ...keys, ...args);
  }
}

/** What the S4 bench reads from its own redis-server, and the reset between its runs. */
import type { Redis } from 'ioredis';

/** INFO server, cpu and commandstats of the bench's redis-server (never another one), FLUSHALL and RESETSTAT. */
export class RedisProbe {
  constructor(private readonly admin: Redis) {}

  async version(): Promise<string> {
    return /redis_version:(\S+)/.exec(await this.admin.info('server'))?.[1] ?? 'unknown';
  }

  async cpuSeconds(): Promise<number> {
    const info = await this.admin.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  }

  /** Server µs per command since the last reset, the three largest. */
  async topCommands(msgs: number): Promise<string> {
    const info = await this.admin.info('commandstats');
    const stats = [...info.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)].map((m) => ({ name: m[1]!, calls: Number(m[2]), usec: Number(m[3]) }));
    stats.sort((a, b) => b.usec - a.usec);
    return stats.slice(0, 3).map((s) => `${s.name} ${(s.usec / msgs).toFixed(1)} µs/msg (${(s.calls / msgs).toFixed(2)} calls/msg)`).join(', ');
  }

  /**
   * Calls per command since the last reset (`INFO commandstats`). Redis counts a command a script runs
   * (`redis.call` inside EVAL/EVALSHA/FCALL) under that command too, besides the EVALSHA itself, so the
   * sum counts every command Redis executed, scripts' inner calls included. The probe's own INFO and
   * CONFIG calls are left out.
   */
  async commandCalls(): Promise<Map<string, number>> {
    const info = await this.admin.info('commandstats');
    const calls = new Map<string, number>();
    for (const m of info.matchAll(/^cmdstat_(\S+):calls=(\d+)/gm)) {
      const name = m[1]!;
      if (name === 'info' || name.startsWith('config')) continue;
      calls.set(name, Number(m[2]));
    }
    return calls;
  }

  flushAll(): Promise<unknown> {
    return this.admin.flushall();
  }

  resetStats(): Promise<unknown> {
    return this.admin.config('RESETSTAT');
  }
}

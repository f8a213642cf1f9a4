import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startReplySink } from '../helpers/reply-sink.js';
import { spawnGateway } from '../helpers/spawn-gateway.js';

/**
 * Ctrl+C in a terminal signals the whole foreground process group: under `npm start` both npm and the
 * gateway get SIGINT, and npm forwards its copy to the gateway too. These tests start `npm start` in a
 * group of its own and signal the group, as a terminal does.
 */
describe('Ctrl+C under npm start', () => {
  it('drains the 3 waiting messages (their reply is delivered) and the exit line says 0 lost', async () => {
    // The reply is held until the test lets it go, so the gateway is still draining when npm's copy arrives.
    let release!: () => void;
    const released = new Promise<number>((resolve) => (release = () => resolve(200)));
    const sink = await startReplySink({ respond: () => released });
    onTestFinished(() => sink.close());
    const gw = await spawnGateway({
      via: 'npm',
      // The ignored copy is logged at debug.
      env: { LOG_LEVEL: 'debug' },
      config: {
        batching: { defaults: { windowMs: 600_000, maxWaitMs: 600_000 } },
        adapters: { web: { enabled: false }, webhook: { enabled: true, replyUrl: sink.url } },
        shutdownTimeoutMs: 20_000,
      },
    });
    for (const text of ['one', 'two', 'three']) {
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'room', userId: 'u', text }) });
      expect(res.status).toBe(202);
    }
    gw.signalGroup('SIGINT');
    await gw.waitForLog(/shutting down: flushing open batches/);
    await sink.waitFor(1);
    // npm's forwarded copy: on a busy machine it reaches the gateway after its own one was handled.
    // npm's child: the script's shell, which `exec`s the gateway in place.
    const gatewayPid = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(gw.proc.pid)], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
    process.kill(gatewayPid, 'SIGINT');
    await gw.waitForLog(/already stopping/);
    release();
    const { code } = await gw.exited;
    expect(code).toBe(0);
    expect(sink.delivered().map((r) => (r.body as { text: string }).text)).toEqual(['3 messages from u: one / two / three']);
    const done = gw.jsonLogs().find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('shutdown complete'));
    expect(done).toMatchObject({ drained: 3, lost: 0 });
    expect(gw.logs.some((l) => l.includes('exiting now'))).toBe(false);
  });

  it('a second Ctrl+C a moment later exits at once and says so in the log', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-ctrl-c-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const bot = path.join(dir, 'stuck-bot.mjs');
    // A processor that never finishes: the first Ctrl+C's drain would wait the whole shutdownTimeoutMs.
    await writeFile(bot, 'export default () => new Promise(() => {});\n');
    const gw = await spawnGateway({
      via: 'npm',
      config: {
        batching: { defaults: { windowMs: 600_000, maxWaitMs: 600_000 } },
        processor: { type: 'module', path: bot },
        adapters: { web: { enabled: false } },
        shutdownTimeoutMs: 600_000,
      },
    });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'room', userId: 'u', text: 'hi' }) });
    expect(res.status).toBe(202);
    gw.signalGroup('SIGINT');
    await gw.waitForLog(/shutting down: flushing open batches/);
    // "A moment later" is the behaviour under test: copies within a second are the same Ctrl+C.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(gw.proc.exitCode).toBeNull();
    gw.signalGroup('SIGINT');
    const { code, signal } = await gw.exited;
    expect(signal === null ? code : signal).toBe(130);
    expect(gw.logs.some((l) => l.includes('second stop signal: exiting now'))).toBe(true);
  });
});

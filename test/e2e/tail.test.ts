import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT, spawnGateway } from '../helpers/spawn-gateway.js';

/** `batchgate tail …` as a child process, its stdout and stderr lines collected as they come. */
function tail(args: string[]) {
  const proc = spawn(process.execPath, ['bin/batchgate.js', 'tail', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const out: string[] = [];
  const err: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream, into: string[]) =>
    createInterface({ input: stream }).on('line', (line) => {
      into.push(line);
      for (const w of waiters) w();
    });
  collect(proc.stdout!, out);
  collect(proc.stderr!, err);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  /** Resolves once `predicate` holds over the lines so far (checked on every new line). */
  const until = (what: string, predicate: () => boolean, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`tail: ${what} not seen in ${timeoutMs} ms; stdout:\n${out.join('\n')}\nstderr:\n${err.join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { proc: proc as ChildProcess, out, err, exited, until };
}

async function post(url: string, channelId: string, text: string): Promise<void> {
  const res = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId, userId: 'ana', text }) });
  expect(res.status).toBe(202);
}

describe('batchgate tail, against a running gateway', { timeout: 120_000 }, () => {
  it('prints flushes with their reason and runs with their replies, filters by channel with --json, and exits 2 with a reason when the gateway goes away', async () => {
    const g = await spawnGateway({
      config: { adapters: { web: { enabled: false }, webhook: { enabled: true } }, batching: { defaults: { windowMs: 200, maxBatchSize: 3 } }, log: { level: 'warn' } },
    });
    const people = tail(['--url', g.url]);
    const json = tail(['webhook:room-1', '--json', '--url', g.url]);
    await people.until('the "following" line', () => people.err.some((l) => l.startsWith('following ')));
    await json.until('the "following" line', () => json.err.some((l) => l.startsWith('following ')));

    // room-1: three messages seal by size; room-2: one message seals by the window.
    for (const text of ['hey', 'quick question', 'the deploy failed']) await post(g.url, 'room-1', text);
    await post(g.url, 'room-2', 'hello');

    await people.until('both channels flushed and completed', () =>
      ['room-1', 'room-2'].every((room) => people.out.some((l) => /batch\.completed/.test(l) && l.includes(`webhook:${room}`))),
    );
    expect(people.out.find((l) => l.includes('batch.flushed') && l.includes('webhook:room-1'))).toMatch(/^\d\d:\d\d:\d\d\.\d{3}  batch\.flushed +webhook:room-1  3 msgs · size$/);
    expect(people.out.find((l) => l.includes('batch.flushed') && l.includes('webhook:room-2'))).toMatch(/webhook:room-2  1 msg · window · \+[\d.]+ m?s late$/);
    expect(people.out.find((l) => l.includes('batch.started') && l.includes('webhook:room-1'))).toMatch(/3 msgs · waited [\d.]+ m?s$/);
    expect(people.out.find((l) => l.includes('batch.completed') && l.includes('webhook:room-1'))).toMatch(/3 msgs · [\d.]+ m?s · 1 reply$/);

    // --json with a key: one JSON object per line, that channel's only.
    await json.until('room-1 completed', () => json.out.some((l) => l.includes('"batch.completed"')));
    const events = json.out.map((l) => JSON.parse(l) as { type: string; channelKey: string; reason?: string; size?: number; replies?: number });
    expect(new Set(events.map((e) => e.channelKey))).toEqual(new Set(['webhook:room-1']));
    expect(events.map((e) => e.type)).toEqual(['message.appended', 'message.appended', 'message.appended', 'batch.flushed', 'batch.started', 'batch.completed']);
    expect(events[3]).toMatchObject({ reason: 'size', size: 3 });
    expect(events[5]).toMatchObject({ replies: 1 });

    // The gateway goes away: both exit 2 and say why on stderr.
    expect(await g.stop()).toBe(0);
    expect(await people.exited).toBe(2);
    expect(await json.exited).toBe(2);
    expect(people.err.at(-1)).toMatch(/closed the event stream|lost the event stream/);
  });

  it('Ctrl+C and a closed pipe end it with exit 0 and no error; an unreachable gateway exits 2 with the URL', async () => {
    const g = await spawnGateway({ config: { adapters: { web: { enabled: false }, webhook: { enabled: true } }, batching: { defaults: { windowMs: 50 } }, log: { level: 'warn' } } });
    const t = tail(['--url', g.url]);
    await t.until('the "following" line', () => t.err.some((l) => l.startsWith('following ')));
    t.proc.kill('SIGINT');
    expect(await t.exited).toBe(0);
    expect(t.err.filter((l) => !l.startsWith('following '))).toEqual([]);

    // `batchgate tail | head -n 1`: head exits after one line; tail ends quietly with 0.
    const piped = spawn('bash', ['-c', `node bin/batchgate.js tail --url ${g.url} | head -n 1; echo "tail exit \${PIPESTATUS[0]}" >&2`], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void piped.kill('SIGKILL'));
    let stderr = '';
    piped.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    piped.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    // Traffic until the pipeline ends: head exits after its line, and tail sees the closed pipe at its next
    // write (each POST makes a few events; the first ones may come before tail is connected).
    const exited = new Promise<number | null>((resolve) => piped.once('exit', resolve));
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      await post(g.url, 'room-p', 'ping');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 250))]);
    }
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/tail exit 0/);
    expect(stderr).not.toMatch(/EPIPE|Error/);

    await g.stop();
    const gone = tail(['--url', g.url]);
    expect(await gone.exited).toBe(2);
    expect(gone.err.join('\n')).toMatch(new RegExp(`cannot reach the gateway at ${g.url.replace(/[.]/g, '\\.')}`));
  });
});

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT } from '../helpers/spawn-gateway.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts/test-setup.sh');
const BASH = '/bin/bash';

/** Runs `npm test`'s pretest with exactly `PATH`, as npm would (bash, from the repository root). */
function runSetup(pathDirs: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(BASH, [SCRIPT], { cwd: REPO_ROOT, env: { PATH: pathDirs }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    proc.once('error', reject);
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves `name` on this machine's PATH, the way the script's `command -v` does. */
function which(name: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} is not installed here; the suite needs it`);
}

/**
 * A PATH of one temporary directory holding links to the real `tools`, plus small stand-ins: `id` says who
 * the script runs as, `apt-get` records its arguments instead of installing anything.
 */
async function fakePath(tools: string[], uid: number): Promise<{ dir: string; aptCalls: () => Promise<string[]> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-test-setup-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  for (const tool of tools) await symlink(which(tool), path.join(dir, tool));
  const log = path.join(dir, 'apt-get.log');
  const stub = async (name: string, body: string) => {
    await writeFile(path.join(dir, name), `#!${BASH}\n${body}\n`);
    await chmod(path.join(dir, name), 0o755);
  };
  await stub('id', `[ "$1" = "-u" ] && echo ${uid} || exit 1`);
  await stub('apt-get', `echo "$*" >> ${JSON.stringify(log)}`);
  return { dir, aptCalls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
}

// What else the script finds missing on this machine (the suite itself needs Chromium at /usr/bin/chromium).
const chromiumMissing = existsSync('/usr/bin/chromium') ? [] : ['chromium'];

describe('scripts/test-setup.sh (npm pretest)', () => {
  it('with everything installed: exits 0 and prints nothing', async () => {
    expect(await runSetup(process.env['PATH'] ?? '')).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('without redis-server, not as root: one line naming what to install, exit 1, nothing installed', async () => {
    const { dir, aptCalls } = await fakePath(['redis-cli', 'python3'], 1000);
    const missing = ['redis-server', ...chromiumMissing].join(' ');
    expect(await runSetup(dir)).toEqual({
      code: 1,
      stdout: '',
      stderr: `test setup: the suite needs ${missing}; install them (Debian/Ubuntu: sudo apt-get install -y ${missing}) and run npm test again\n`,
    });
    expect(await aptCalls()).toEqual([]);
  });

  it('without redis-server and redis-cli, as root with apt-get: installs both packages with apt-get and says so', async () => {
    const { dir, aptCalls } = await fakePath(['python3'], 0);
    const missing = ['redis-server', 'redis-tools', ...chromiumMissing].join(' ');
    expect(await runSetup(dir)).toEqual({
      code: 0,
      stdout: `test setup: installing ${missing} with apt-get\ntest setup: installed ${missing}\n`,
      stderr: '',
    });
    expect(await aptCalls()).toEqual(['update -qq', `install -y -qq ${missing}`]);
  });
});

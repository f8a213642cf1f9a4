import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/batchgate.js', import.meta.url));

/** Runs the real `batchgate` binary as a child process; never throws on a non-zero exit. */
export function cli(args: string[], env: Record<string, string> = {}, unset: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, BATCHGATE_ADMIN_TOKEN: '', BATCHGATE_URL: '', ...env };
  for (const name of unset) delete childEnv[name];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT } from '../helpers/spawn-gateway.js';

const run = promisify(execFile);
const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

// SLOW (a minute or more on a busy machine): packs the package, installs the tarball into a new project
// (from npm's cache when it has the dependencies, else from the registry) and runs it from there.
describe('the published package (npm pack → npm install → import, type-check, npx batchgate start)', { timeout: 600_000 }, () => {
  it('works from a fresh project: JavaScript import, TypeScript against the shipped .d.ts, and the CLI until /healthz answers', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-pack-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));

    // `npm pack` runs `prepare` (the build), so the tarball holds a fresh dist/.
    const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });
    const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const shipped = info!.files.map((f) => f.path);
    expect(shipped).toContain('dist/src/index.js');
    expect(shipped).toContain('dist/src/index.d.ts');
    expect(shipped).toContain('dist/src/admin/public/dashboard.js');
    expect(shipped).toContain('dist/adapters/web/public/index.html');
    expect(shipped).toContain('dist/src/distributed/lua/append.lua');
    expect(shipped).toContain('config/default.yaml');
    expect(shipped.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.tsbuildinfo'))).toEqual([]);

    const project = path.join(dir, 'consumer');
    await run('mkdir', ['-p', project]);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, info!.filename)], { cwd: project, env: npmEnv, maxBuffer: 64 * 1024 * 1024 });
    expect(await readdir(path.join(project, 'node_modules/batchgate'))).not.toContain('src');

    // Plain JavaScript, no TypeScript loader anywhere.
    await writeFile(
      path.join(project, 'check.mjs'),
      [
        "import { createGateway, echoProcessor, parseConfig, MessageQueue, GatewayError } from 'batchgate';",
        "for (const [name, value] of Object.entries({ createGateway, echoProcessor, parseConfig, MessageQueue, GatewayError })) {",
        "  if (typeof value !== 'function') throw new Error(`${name} is ${typeof value}`);",
        '}',
        'const config = parseConfig({ http: { port: 0 } }, {});',
        "console.log(JSON.stringify({ port: config.http.port, processor: config.processor.type }));",
      ].join('\n'),
    );
    const { stdout: js } = await run(process.execPath, ['check.mjs'], { cwd: project });
    expect(JSON.parse(js)).toEqual({ port: 0, processor: 'echo' });

    // TypeScript: the project's tsc checks a consumer against the shipped declarations. The two
    // expected-error lines fail the check if the types were missing (everything `any`).
    await writeFile(
      path.join(project, 'check.ts'),
      [
        "import { createGateway, parseConfig, type GatewayConfigInput, type Processor, type QueuedMessage } from 'batchgate';",
        'const bot: Processor = async (batch, ctx) => {',
        '  const first: QueuedMessage | undefined = batch.messages[0];',
        "  await ctx.reply(`${batch.size} from ${first?.userName ?? 'nobody'}`);",
        '};',
        "const input: GatewayConfigInput = { http: { port: 0 }, batching: { defaults: { windowMs: 250 } } };",
        'const gateway = createGateway({ config: parseConfig(input, {}), processor: bot });',
        'void gateway;',
        'const port: number = parseConfig(input, {}).http.port;',
        'void port;',
        '// @ts-expect-error http.port is a number',
        'const wrong: string = parseConfig(input, {}).http.port;',
        'void wrong;',
        '// @ts-expect-error a processor takes a batch and a context',
        'const notABot: Processor = (text: string) => text;',
        'void notABot;',
      ].join('\n'),
    );
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')] },
        files: ['check.ts'],
      }),
    );
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc against the shipped .d.ts failed:\n${err.stdout}`);
    });

    // The CLI from the installed package, with no config of the project's own: the package's default.
    const proc = spawn('npx', ['batchgate', 'start'], { cwd: project, env: { ...npmEnv, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    onTestFinished(() => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, 'SIGKILL');
    });
    const lines: string[] = [];
    const health = await new Promise<string>((resolve, reject) => {
      const onLine = (line: string) => {
        lines.push(line);
        const url = /^\s+health\s+(http:\/\/\S+\/healthz)\s*$/.exec(line)?.[1];
        if (url) resolve(url);
      };
      createInterface({ input: proc.stdout! }).on('line', onLine);
      createInterface({ input: proc.stderr! }).on('line', onLine);
      proc.once('exit', (code) => reject(new Error(`npx batchgate start exited (${code}) before listening:\n${lines.join('\n')}`)));
    });
    const res = await fetch(health);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    // npx and the gateway share the process group; the signal ends both (npx by the signal itself).
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(-proc.pid!, 'SIGTERM');
    await exited;
  });
});

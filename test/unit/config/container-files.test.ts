import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';

// No Docker engine runs on CI: these files are kept correct by reading, and checked here.
describe('docker-compose.yml and Dockerfile', () => {
  it('compose parses and runs the gateway with a health check, a data volume and enough stop grace', async () => {
    const doc = parse(await readFile('docker-compose.yml', 'utf8')) as {
      services: Record<string, { build: string; ports: string[]; environment: Record<string, string>; volumes: string[]; stop_grace_period: string; healthcheck: { test: string[] } }>;
      volumes: Record<string, unknown>;
    };
    const svc = doc.services.batchgate!;
    expect(svc.build).toBe('.');
    expect(svc.ports).toContain('8787:8787');
    expect(svc.environment.HOST).toBe('0.0.0.0');
    expect(svc.environment.BATCHGATE_ADMIN_TOKEN).toMatch(/^\$\{BATCHGATE_ADMIN_TOKEN/);
    expect(svc.healthcheck.test.join(' ')).toContain('/healthz');
    const volume = svc.volumes[0]!.split(':');
    expect(Object.keys(doc.volumes)).toContain(volume[0]);
    expect(volume[1]).toBe('/app/data');
    const graceS = Number(/^(\d+)s$/.exec(svc.stop_grace_period)?.[1]);
    expect(graceS * 1000).toBeGreaterThan(parseConfig({}, {}).shutdownTimeoutMs);
  });

  it('the image runs node directly (signals reach the gateway) and writes the spool where the volume is', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/batchgate\.js", "start"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8787$/m);
    const defaults = parse(await readFile('config/default.yaml', 'utf8')) as { state: { spoolPath: string } };
    expect(defaults.state.spoolPath).toBe('./data/spool.jsonl'); // /app/data inside the image
    for (const dir of ['bin', 'src', 'adapters', 'config']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCli } from '../../../src/cli.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/schema.js';

// No Docker engine runs on CI: these files are kept correct by reading, and checked here against the
// real CLI and the real config loader, so a renamed command, option or key breaks this test, not a deploy.

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  profiles?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  configs?: Array<{ source: string; target: string }>;
}

interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  configs?: Record<string, { content?: string }>;
}

async function readCompose(): Promise<Compose> {
  // merge: compose's `<<: *anchor` keys share one definition between services.
  return parse(await readFile('docker-compose.yml', 'utf8'), { merge: true }) as Compose;
}

/** The image's default command, from the Dockerfile's exec-form CMD. */
async function imageCommand(): Promise<string[]> {
  const cmd = /^CMD (\[.*\])$/m.exec(await readFile('Dockerfile', 'utf8'))?.[1];
  expect(cmd, 'Dockerfile has an exec-form CMD').toBeDefined();
  return JSON.parse(cmd!) as string[];
}

/**
 * Checks an argv against the commander program users run: the subcommand exists and every option is one
 * of its options. Returns the subcommand and the option values by attribute name.
 */
function resolveCli(argv: string[]): { command: string; options: Record<string, string | true> } {
  expect(argv.slice(0, 2)).toEqual(['node', 'bin/batchgate.js']);
  const [name, ...rest] = argv.slice(2);
  const sub = buildCli().commands.find((c) => c.name() === name);
  expect(sub, `\`batchgate ${name}\` is not a command`).toBeDefined();
  const options: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const option = sub!.options.find((o) => o.long === flag || o.short === flag);
    expect(option, `\`batchgate ${name}\` has no option ${flag}`).toBeDefined();
    const takesValue = option!.required || option!.optional;
    options[option!.attributeName()] = takesValue ? (inline ?? rest[++i]!) : true;
  }
  return { command: name!, options };
}

/** A service's environment as the container sees it: `${VAR:-default}` gives the default, `${VAR:?…}` a set value. */
function containerEnv(service: Service): Record<string, string> {
  const resolve = (v: string) =>
    v.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => (op === '-' ? (arg ?? '') : `set-${name}`));
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, resolve(String(v))]));
}

/** The config a service's process loads, through the project's loader, as `batchgate` would. */
async function serviceConfig(service: Service): Promise<GatewayConfig> {
  const { options } = resolveCli(service.command ?? (await imageCommand()));
  const file = options.config;
  if (typeof file === 'string') expect(existsSync(file), `${file} exists`).toBe(true);
  return (await loadConfig(typeof file === 'string' ? file : undefined, containerEnv(service))).config;
}

function healthUrl(service: Service): URL {
  const url = /https?:\/\/[^'"\s)]+/.exec(service.healthcheck?.test.join(' ') ?? '')?.[0];
  expect(url, 'the healthcheck calls an HTTP URL').toBeDefined();
  return new URL(url!);
}

const graceMs = (service: Service) => Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '')?.[1]) * 1000;
const containerPorts = (service: Service) => (service.ports ?? []).map((p) => Number(p.split(':').at(-1)));
const roleOf = (service: Service) => service.command?.[2];
const distributedServices = (doc: Compose, role: 'start' | 'worker') =>
  Object.entries(doc.services).filter(([, s]) => roleOf(s) === role && !s.profiles);

describe('docker-compose.yml: embedded profile', () => {
  it('runs the gateway with a health check, a data volume and enough stop grace', async () => {
    const doc = await readCompose();
    const svc = doc.services.batchgate!;
    expect(svc.profiles).toEqual(['embedded']);
    expect(svc.build).toBe('.');
    expect(svc.ports).toContain('8787:8787');
    expect(svc.environment!.HOST).toBe('0.0.0.0');
    expect(svc.environment!.BATCHGATE_ADMIN_TOKEN).toMatch(/^\$\{BATCHGATE_ADMIN_TOKEN/);
    expect(healthUrl(svc).pathname).toBe('/healthz');
    const volume = svc.volumes![0]!.split(':');
    expect(Object.keys(doc.volumes)).toContain(volume[0]);
    expect(volume[1]).toBe('/app/data');
    const config = await serviceConfig(svc);
    expect(config.redis.url).toBe('');
    expect(graceMs(svc)).toBeGreaterThan(config.shutdownTimeoutMs);
  });
});

describe('docker-compose.yml: distributed stack', () => {
  it('redis keeps an AOF fsync’d every second, never evicts, has a volume and a health check', async () => {
    const doc = await readCompose();
    const redis = doc.services.redis!;
    expect(redis.image).toBe('redis:7-alpine');
    const args = redis.command!.join(' ');
    expect(args).toMatch(/^redis-server /);
    expect(args).toContain('--appendonly yes');
    expect(args).toContain('--appendfsync everysec');
    expect(args).toContain('--maxmemory-policy noeviction');
    expect(redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
    const [volume, mount] = redis.volumes![0]!.split(':');
    expect(Object.keys(doc.volumes)).toContain(volume);
    expect(mount).toBe('/data');
  });

  it('two gateways on host ports 8787 and 8788, with the admin token required', async () => {
    const doc = await readCompose();
    const gateways = distributedServices(doc, 'start');
    expect(gateways.map(([name]) => name).sort()).toEqual(['gateway-1', 'gateway-2']);
    expect(gateways.flatMap(([, s]) => s.ports!.map((p) => p.split(':')[0])).sort()).toEqual(['8787', '8788']);
    for (const [, svc] of gateways) {
      expect(svc.build).toBe('.');
      expect(svc.environment!.HOST).toBe('0.0.0.0');
      expect(svc.environment!.BATCHGATE_ADMIN_TOKEN).toMatch(/^\$\{BATCHGATE_ADMIN_TOKEN:\?/);
      expect(healthUrl(svc).pathname).toBe('/healthz');
    }
  });

  it('two workers, no host ports, health-checked on their own /healthz', async () => {
    const doc = await readCompose();
    const workers = distributedServices(doc, 'worker');
    expect(workers.map(([name]) => name).sort()).toEqual(['worker-1', 'worker-2']);
    for (const [, svc] of workers) {
      expect(svc.build).toBe('.');
      expect(svc.ports ?? []).toEqual([]);
      expect(healthUrl(svc).pathname).toBe('/healthz');
    }
  });

  it('gateways and workers share Redis, wait for it healthy, listen where they are checked, and outlast their shutdown', async () => {
    const doc = await readCompose();
    for (const [name, svc] of [...distributedServices(doc, 'start'), ...distributedServices(doc, 'worker')]) {
      expect(svc.depends_on?.redis?.condition, name).toBe('service_healthy');
      expect(svc.environment!.REDIS_URL, name).toBe('redis://redis:6379');
      const config = await serviceConfig(svc);
      expect(config.redis.url, name).toBe('redis://redis:6379');
      expect(Number(healthUrl(svc).port), name).toBe(config.http.port);
      for (const port of containerPorts(svc)) expect(port, name).toBe(config.http.port);
      expect(graceMs(svc), name).toBeGreaterThan(config.shutdownTimeoutMs);
    }
  });

  it('every service command is a real `batchgate` command whose --config file loads', async () => {
    const doc = await readCompose();
    const batchgateServices = Object.entries(doc.services).filter(([, s]) => s.build === '.');
    expect(batchgateServices.length).toBe(5);
    for (const [, svc] of batchgateServices) {
      const { command } = resolveCli(svc.command ?? (await imageCommand()));
      expect(['start', 'worker']).toContain(command);
      await serviceConfig(svc); // throws a ConfigError naming the failing keys
    }
  });
});

describe('docker-compose.yml: observability profile', () => {
  /** `./host/path:/container/path[:ro]` → [host, container]. */
  const mounts = (svc: Service) => (svc.volumes ?? []).map((v) => v.split(':') as [string, string, string?]);

  it('Prometheus scrapes every gateway and worker service on the port its config listens on, with the admin token', async () => {
    const doc = await readCompose();
    const prom = doc.services.prometheus!;
    expect(prom.profiles).toEqual(['observability']);
    const [file] = mounts(prom).find(([, target]) => target === '/etc/prometheus/prometheus.yml')!;
    expect(existsSync(file!), `${file} exists`).toBe(true);
    const scrape = parse(await readFile(file!, 'utf8')) as {
      scrape_configs: Array<{
        job_name: string;
        metrics_path: string;
        authorization: { type: string; credentials_file: string };
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; port: number }>;
      }>;
    };
    const targets = new Map<string, number>();
    for (const job of scrape.scrape_configs) {
      expect(job.metrics_path).toBe('/metrics');
      expect(job.authorization.type).toBe('Bearer');
      // The token file is the compose config holding BATCHGATE_ADMIN_TOKEN, mounted where the job reads it.
      const mounted = prom.configs!.find((c) => c.target === job.authorization.credentials_file);
      expect(mounted, job.job_name).toBeDefined();
      expect(doc.configs![mounted!.source]!.content).toMatch(/^\$\{BATCHGATE_ADMIN_TOKEN/);
      for (const t of job.static_configs?.flatMap((c) => c.targets) ?? []) targets.set(t.split(':')[0]!, Number(t.split(':')[1]));
      for (const d of job.dns_sd_configs ?? []) for (const name of d.names) targets.set(name, d.port);
    }
    const services = [...distributedServices(doc, 'start'), ...distributedServices(doc, 'worker')];
    expect([...targets.keys()].sort()).toEqual(services.map(([name]) => name).sort());
    for (const [name, svc] of services) {
      const config = await serviceConfig(svc);
      expect(targets.get(name), name).toBe(config.http.port);
      // Workers need the same token: their /metrics is behind it like the gateways'.
      expect(config.admin.token, name).toBe('set-BATCHGATE_ADMIN_TOKEN');
    }
  });

  it('Grafana gets the Prometheus datasource and the batchgate dashboard provisioned', async () => {
    const doc = await readCompose();
    const grafana = doc.services.grafana!;
    expect(grafana.profiles).toEqual(['observability']);
    const [provisioning] = mounts(grafana).find(([, target]) => target === '/etc/grafana/provisioning')!;
    const datasources = parse(await readFile(`${provisioning}/datasources/prometheus.yml`, 'utf8')) as { datasources: Array<{ type: string; url: string }> };
    const url = new URL(datasources.datasources[0]!.url);
    expect(datasources.datasources[0]!.type).toBe('prometheus');
    expect(doc.services[url.hostname], 'the datasource names the prometheus service').toBeDefined();
    expect(doc.services[url.hostname]!.ports).toContain(`${url.port}:${url.port}`);
    const providers = parse(await readFile(`${provisioning}/dashboards/batchgate.yml`, 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const dashboardMount = mounts(grafana).find(([, target]) => target.startsWith(`${providers.providers[0]!.options.path}/`));
    expect(dashboardMount, 'the dashboard is mounted where the provider reads').toBeDefined();
    expect(dashboardMount![0]).toBe('./deploy/grafana/batchgate.json');
    expect(() => JSON.parse(readFileSync('deploy/grafana/batchgate.json', 'utf8'))).not.toThrow();
  });
});

describe('config/distributed.yaml', () => {
  it('writes out every `distributed` default and falls back to a local Redis', async () => {
    const doc = parse(await readFile('config/distributed.yaml', 'utf8')) as { distributed: unknown };
    expect(doc.distributed).toEqual(parseConfig({}, {}).distributed);
    const { config } = await loadConfig('config/distributed.yaml', {});
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.processor.type).toBe('echo');
    expect(config.adapters.web.enabled && config.adapters.webhook.enabled).toBe(true);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage: a build stage compiles and prunes dev deps, a runtime stage that runs as `node`', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.slice(0, -1).join('\n');
    // `npm ci` runs `prepare` (the build), so the sources must be copied before it.
    const ci = build.search(/^RUN npm ci\b/m);
    expect(ci).toBeGreaterThan(-1);
    for (const dir of ['src', 'adapters', 'scripts']) expect(build.indexOf(`COPY ${dir} ./${dir}`), dir).toBeGreaterThan(-1);
    for (const dir of ['src', 'adapters', 'scripts']) expect(build.indexOf(`COPY ${dir} ./${dir}`), dir).toBeLessThan(ci);
    expect(build).toMatch(/^RUN npm prune --omit=dev\b/m);
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe(pkg.scripts.build);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/^COPY --from=\w+ \/app\/node_modules \.\/node_modules$/m);
    expect(runtime).toMatch(/^COPY --from=\w+ \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^USER node$/m);
    for (const dir of ['bin', 'config']) expect(runtime).toContain(`COPY ${dir} ./${dir}`);
    // The image runs the compiled code only: no TypeScript sources to fall back on.
    expect(runtime).not.toMatch(/^COPY (src|adapters|tsconfig)/m);
  });

  it('its entry point, bin/batchgate.js, imports the compiled CLI and no TypeScript loader', async () => {
    const bin = await readFile('bin/batchgate.js', 'utf8');
    const imports = [...bin.matchAll(/^(?:await )?import\(?\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(imports).toEqual(['../dist/src/main.js']);
    expect(bin).not.toMatch(/from ['"]tsx|import\(['"]tsx/);
  });

  it('runs node directly (signals reach the process) and writes the spool where the volume is', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/batchgate\.js", "start"\]$/m);
    expect(resolveCli(await imageCommand()).command).toBe('start');
    expect(dockerfile).toMatch(/^EXPOSE 8787$/m);
    // ./data is /app/data inside the image; BATCHGATE_DATA_DIR moves it.
    const { config } = await loadConfig('config/default.yaml', {});
    expect([config.state.spoolPath, config.state.journal.path]).toEqual(['./data/spool.jsonl', './data/journal']);
    const moved = (await loadConfig('config/default.yaml', { BATCHGATE_DATA_DIR: '/var/lib/batchgate' })).config.state;
    expect([moved.spoolPath, moved.journal.path]).toEqual(['/var/lib/batchgate/spool.jsonl', '/var/lib/batchgate/journal']);
  });
});

import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import { ChatAdapter, until } from '../admin/harness.js';
import { tempState } from '../../helpers/temp-state.js';

/** A collector's OTLP/HTTP endpoint on loopback: records each export request. */
async function startCollector(): Promise<{ url: string; exports: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> }> {
  const exports: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      exports.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports };
}

describe('telemetry.otlp.endpoint', () => {
  it('starts the SDK and exports the batch spans over OTLP/HTTP to /v1/traces with the configured headers and service name', async () => {
    const collector = await startCollector();
    const chat = new ChatAdapter();
    const config = parseConfig(
      {
        http: { port: 0 },
        batching: { defaults: { windowMs: 60_000, maxWaitMs: 600_000, maxBatchSize: 3 } },
        state: tempState(),
        shutdownTimeoutMs: 1_000,
        telemetry: { otlp: { endpoint: collector.url, headers: { 'x-api-key': 'k-123' } }, serviceName: 'bot-gateway' },
      },
      {},
    );
    const gw = createGateway({ config, logger: silentLogger(), adapters: [chat] });
    await gw.start();
    for (const text of ['one', 'two', 'three']) await chat.say('room', text);
    await until(() => chat.sent.length === 1, 10_000, 'the reply');
    // Shutdown flushes the spans the batching processor still holds.
    await gw.close();
    await until(() => collector.exports.length > 0, 10_000, 'an export');
    const body = collector.exports.map((e) => e.body).join('\n');
    expect(collector.exports[0]!.path).toBe('/v1/traces');
    expect(collector.exports[0]!.headers['x-api-key']).toBe('k-123');
    for (const name of ['batchgate.batch', 'batchgate.collect', 'batchgate.wait', 'batchgate.process', 'batchgate.reply', 'bot-gateway']) expect(body).toContain(name);
  });
});

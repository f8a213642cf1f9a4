import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../../src/errors.js';
import { startFakeDiscord } from '../../fakes/discord/index.js';
import { discordHarness, sleep, until } from './harness.js';

const FIXTURE = new URL('./fixtures/start-and-fail.ts', import.meta.url).pathname;

/** Runs the fixture in its own Node process; resolves when that process exits by itself. */
function runFailingStart(env: Record<string, string>): Promise<{ exitCode: number | null; output: { code?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, ...env }, timeout: 25_000 }, (err, stdout) => {
      if (err && err.killed) return reject(new Error(`the process did not exit on its own: ${stdout}`));
      try {
        resolve({ exitCode: child.exitCode, output: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { code?: string; message?: string } });
      } catch (parseError) {
        reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
      }
    });
  });
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('DiscordAdapter start-up, resilience and shutdown', () => {
  it('is ready after start; close() destroys the client and nothing reconnects afterwards', async () => {
    const h = await discordHarness();
    await h.start();
    expect(h.adapter.ready()).toBe(true);
    expect(h.fake.identifies).toBe(1);
    await h.adapter.close();
    await h.adapter.close(); // idempotent
    expect(h.adapter.ready()).toBe(false);
    await until(() => h.fake.openConnections === 0, 'the socket to close');
    const connections = h.fake.connections;
    await sleep(2_500);
    expect(h.fake.connections).toBe(connections);
    expect(h.fake.openConnections).toBe(0);
  });

  it('resumes after the fake drops the socket; later messages still arrive, and none twice', async () => {
    const h = await discordHarness();
    await h.start();
    const { fake } = h;
    fake.sendUserMessage({ channelId: fake.channelId, content: 'before' });
    await until(() => h.accepted.length === 1, 'first message');

    fake.dropConnection();
    // Sent while the socket is down: Discord replays it on RESUME.
    fake.sendUserMessage({ channelId: fake.channelId, content: 'during' });
    await until(() => fake.resumes >= 1 && fake.openConnections === 1, 'a RESUME on a new socket', 15_000);
    expect(fake.identifies).toBe(1);
    fake.sendUserMessage({ channelId: fake.threadId, content: 'after' });
    // A last message: the fake dispatches in order, so a replayed duplicate would have come before it.
    fake.sendUserMessage({ channelId: fake.threadId, content: 'marker' });
    await until(() => h.accepted.some((m) => m.text === 'marker'), 'messages after the resume', 15_000);
    expect(h.accepted.map((m) => m.text)).toEqual(['before', 'during', 'after', 'marker']);
    expect(h.adapter.ready()).toBe(true);

    await h.adapter.send({ platform: 'discord', channelId: fake.threadId, text: 'still replying', batchId: 'b', inReplyTo: [] });
    expect(fake.postedMessages.map((p) => p.content)).toEqual(['still replying']);
  });

  it('a bad token: start() rejects promptly with an AdapterError naming discord and the token to check', async () => {
    const h = await discordHarness({ adapter: { token: 'definitely-wrong' } });
    const err = await h.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err).toMatchObject({ code: 'BG_ERR_ADAPTER', platform: 'discord' });
    expect((err as Error).message).toMatch(/^discord adapter: the bot token was rejected \(401 Unauthorized from GET \/gateway\/bot\)\. Check adapters\.discord\.token/);
    expect(h.fake.requests).toContainEqual({ method: 'GET', path: '/api/v10/gateway/bot', status: 401 });
    expect(h.fake.connections).toBe(0);
    expect(h.adapter.ready()).toBe(false);
  });

  it('close code 4014: start() rejects telling the operator to enable the Message Content intent, and does not retry', async () => {
    const h = await discordHarness({ fake: { privilegedIntents: { messageContent: false } } });
    const err = await h.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as Error).message).toContain('discord adapter: Discord refused the gateway connection with close code 4014');
    expect((err as Error).message).toContain('Turn on "Message Content Intent" in the Developer Portal → Applications → your application → Bot → Privileged Gateway Intents');
    const connections = h.fake.connections;
    expect(connections).toBe(1);
    await sleep(1_500);
    expect(h.fake.connections).toBe(connections);
  });

  it('no token, or an API nobody answers: clear start-up errors', async () => {
    const empty = await discordHarness({ adapter: { token: '  ' } });
    await expect(empty.start()).rejects.toThrow(/^discord adapter: no bot token: set adapters\.discord\.token/);

    const port = await closedPort();
    const down = await discordHarness({ adapter: { apiUrl: `http://127.0.0.1:${port}/api/` } });
    const err = await down.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as Error).message).toBe(
      `discord adapter: cannot reach the Discord API at http://127.0.0.1:${port}/api (ECONNREFUSED). Check adapters.discord.apiUrl (leave it empty for the real Discord) and the network`,
    );
  });

  it('stops taking messages once the shutdown signal fires, but still delivers replies until close()', async () => {
    const h = await discordHarness();
    await h.start();
    h.shutdown.abort();
    h.fake.sendUserMessage({ channelId: h.fake.channelId, content: 'too late' });
    await sleep(300);
    expect(h.accepted).toEqual([]);
    await h.adapter.send({ platform: 'discord', channelId: h.fake.channelId, text: 'drained reply', batchId: 'b', inReplyTo: [] });
    expect(h.fake.postedMessages.map((p) => p.content)).toEqual(['drained reply']);
  });

  it('a start() aborted by the shutdown signal rejects instead of hanging', async () => {
    const h = await discordHarness();
    h.shutdown.abort();
    await expect(h.start()).rejects.toThrow(/^discord adapter: start-up aborted/);
    const before = h.fake.connections;
    await sleep(500);
    expect(h.fake.connections).toBe(before);
  });

  it('the process does not hang after a failed start (bad token, disallowed intents)', { timeout: 60_000 }, async () => {
    const fake = await startFakeDiscord({ privilegedIntents: { messageContent: false } });
    try {
      const badToken = await runFailingStart({ DISCORD_TOKEN: 'wrong', DISCORD_API_URL: fake.apiUrl });
      expect(badToken.exitCode).toBe(3);
      expect(badToken.output).toMatchObject({ code: 'BG_ERR_ADAPTER' });
      expect(badToken.output.message).toContain('the bot token was rejected');

      const intents = await runFailingStart({ DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.apiUrl });
      expect(intents.exitCode).toBe(3);
      expect(intents.output.message).toContain('close code 4014');
    } finally {
      await fake.close();
    }
  });
});

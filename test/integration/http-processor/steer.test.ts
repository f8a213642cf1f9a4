import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { QueueEventType, type QueueEvent } from '../../../src/core/events.js';
import { MessageQueue } from '../../../src/core/message-queue.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { SettingsPolicy } from '../../../src/core/policy.js';
import { STEER_PATH, registerSteerRoute } from '../../../src/http/steer-route.js';
import { createHttpProcessor } from '../../../src/processors/http.js';
import { SteerTokens } from '../../../src/processors/steer-tokens.js';
import { startBotServer } from './harness.js';

interface SteerRequest {
  batch: { messages: Array<{ text: string }> };
  steerUrl?: string;
  steerToken?: string;
}

const steerPost = (url: string, token?: string) =>
  fetch(url, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe('HTTP processor in steer mode', () => {
  it('the bot takes the messages sent during its run over steerUrl and answers once; the token dies with the run', async () => {
    const tokens = new SteerTokens();
    const http = Fastify();
    await registerSteerRoute(http, tokens, () => undefined);
    await http.listen({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => http.close());
    const steerUrl = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}${STEER_PATH}`;

    let release!: () => void;
    const secondSealed = new Promise<void>((resolve) => (release = resolve));
    const bot = await startBotServer((req, res) => {
      const body = req.body as SteerRequest;
      void (async () => {
        await secondSealed; // the first slow step
        const answer = await steerPost(body.steerUrl!, body.steerToken);
        const { messages } = (await answer.json()) as { messages: Array<{ text: string }> };
        const texts = [...body.batch.messages, ...messages].map((m) => m.text);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replies: [{ text: texts.join('+') }] }));
      })();
    });
    onTestFinished(() => bot.close());

    const replies: OutboundMessage[] = [];
    const events: QueueEvent[] = [];
    const queue = new MessageQueue({
      processor: createHttpProcessor({ url: bot.url, timeoutMs: 30_000, steer: { tokens, url: () => steerUrl } }),
      onReply: (reply) => void replies.push(reply),
      policy: new SettingsPolicy({ windowMs: 60_000, maxWaitMs: 120_000, mode: 'steer' }),
    });
    onTestFinished(() => queue.close());
    const seen = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        if (check()) return resolve();
        const off = queue.on(() => {
          if (check()) {
            off();
            resolve();
          }
        });
      });
    queue.on((e) => events.push(e));
    const msg = (id: string) => ({ id, platform: 'webhook', channelId: 'room', userId: 'u', text: id });

    await queue.enqueue(msg('one'));
    await queue.flush('webhook:room');
    await bot.waitForRequests(1, 30_000);
    const request = bot.requests[0]!.body as SteerRequest;
    expect(request.steerUrl).toBe(steerUrl);
    expect(request.steerToken).toMatch(/^[\w-]{43}$/);
    expect((await steerPost(steerUrl)).status).toBe(401);
    expect((await steerPost(steerUrl, 'not-a-token')).status).toBe(401);

    await queue.enqueue(msg('two'));
    await queue.flush('webhook:room');
    release();
    await seen(() => events.some((e) => e.type === QueueEventType.Completed));
    expect(replies.map((r) => r.text)).toEqual(['one+two']);
    expect(bot.requests).toHaveLength(1);
    expect(events.filter((e) => e.type === QueueEventType.Steered)).toMatchObject([{ messageIds: ['two'] }]);
    const expired = await steerPost(steerUrl, request.steerToken);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
    expect(tokens.size).toBe(0);
  });
});

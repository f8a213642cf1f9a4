import http from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { api, key, startGateway, until } from './harness.js';

interface Sse {
  events: Array<{ event: string; data: any }>;
  comments: string[];
  close: () => void;
}

/** Reads `/api/v1/events` with fetch streaming (as the dashboard does) and collects what arrives. */
async function subscribe(url: string, headers: Record<string, string> = {}): Promise<Sse> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/v1/events`, { headers, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const out: Sse = { events: [], comments: [], close: () => controller.abort() };
  onTestFinished(() => controller.abort());
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) out.events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted by the test
    }
  })();
  return out;
}

describe('GET /api/v1/events (server-sent events)', () => {
  it('streams every queue event of every platform, with heartbeats', async () => {
    const { gw, chat } = await startGateway({ admin: { events: { heartbeatMs: 50 } } });
    const sse = await subscribe(gw.url);
    await chat.say('e1', 'hello');
    await api(gw, 'POST', `/api/v1/channels/${encodeURIComponent('other:room')}/messages`, { text: 'other platform' });
    await until(() => sse.events.filter((e) => e.event === 'batch.completed').length === 2);
    const forE1 = sse.events.filter((e) => e.data.channelKey === 'chat:e1').map((e) => e.event);
    expect(forE1).toEqual(['message.appended', 'batch.flushed', 'batch.started', 'batch.completed']);
    expect(sse.events.some((e) => e.data.channelKey === 'other:room')).toBe(true);
    const e1 = sse.events.filter((e) => e.data.channelKey === 'chat:e1');
    expect(e1[0]!.data).toMatchObject({ type: 'message.appended', opened: true });
    expect(e1[1]!.data).toMatchObject({ type: 'batch.flushed', size: 1, reason: 'window' });
    await until(() => sse.comments.includes('heartbeat'), 5_000, 'a heartbeat');

    await api(gw, 'POST', `/api/v1/channels/${key('e1')}/stop`);
    await until(() => sse.events.some((e) => e.event === 'channel.paused'));
  });

  it('needs the bearer token like every admin route', async () => {
    const { gw } = await startGateway({ token: 'tok' });
    const res = await fetch(`${gw.url}/api/v1/events`);
    expect(res.status).toBe(401);
    const sse = await subscribe(gw.url, { authorization: 'Bearer tok' });
    sse.close();
  });

  it('unsubscribes a client that went away', async () => {
    const { gw } = await startGateway();
    const sse = await subscribe(gw.url);
    await until(async () => (await api(gw, 'GET', '/api/v1/stats')).body.eventStream.clients === 1);
    sse.close();
    await until(async () => (await api(gw, 'GET', '/api/v1/stats')).body.eventStream.clients === 0);
    expect(gw.bus.get('events').consumers.some((c) => c.name.startsWith('sse#'))).toBe(false);
  });

  it('drops a client that stops reading instead of buffering for it', async () => {
    const { gw, chat } = await startGateway({
      admin: { events: { maxBufferBytes: 16_384 } },
      batching: { defaults: { disabled: true } },
    });
    const url = new URL(`${gw.url}/api/v1/events`);
    let closed = false;
    const req = http.get({ host: url.hostname, port: url.port, path: url.pathname }, (res) => {
      expect(res.statusCode).toBe(200);
      res.pause(); // never read: the kernel buffers fill, then the server's socket buffer grows
      res.on('close', () => (closed = true));
      res.on('error', () => (closed = true));
    });
    req.on('error', () => (closed = true));
    onTestFinished(() => {
      req.destroy();
    });
    await until(async () => (await api(gw, 'GET', '/api/v1/stats')).body.eventStream.clients === 1);

    // Each message is its own batch: three events apiece, a few hundred bytes each.
    let sent = 0;
    while ((await api(gw, 'GET', '/api/v1/stats')).body.eventStream.droppedSlow === 0 && sent < 40_000) {
      const burst = [];
      for (let i = 0; i < 500; i++) burst.push(chat.say(`flood-${i % 50}`, `m${sent++}`));
      await Promise.all(burst);
    }
    const stats = (await api(gw, 'GET', '/api/v1/stats')).body.eventStream;
    expect(stats.droppedSlow).toBeGreaterThanOrEqual(1);
    await until(() => closed, 10_000, 'the slow client to be disconnected');
    await until(async () => (await api(gw, 'GET', '/api/v1/stats')).body.eventStream.clients === 0);
    // The gateway carries on, and a client that reads gets its stream.
    const fresh = await subscribe(gw.url);
    await chat.say('after', 'still streaming');
    await until(() => fresh.events.some((e) => e.data.channelKey === 'chat:after'), 10_000);
  });
});

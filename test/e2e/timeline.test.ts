import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { api, key, startGateway, until } from '../integration/admin/harness.js';

type Entry = { at: number; type: string; batchId?: string; messageIds?: string[]; reason?: string; detail?: string };

// Each CLI spawn loads the whole compiled CLI (a few seconds on a shared 2-core box), hence the timeout.
describe('decision timeline: the route and batchgate timeline (embedded gateway)', { timeout: 90_000 }, () => {
  it('says why each batch sealed and how its run ended, oldest first, over HTTP and through the CLI', async () => {
    // Pairs seal by size, whatever the machine's speed; a lone message waits for the operator.
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 600_000, maxBatchSize: 2 } } });
    await chat.say('room-1', 'my order is late');
    await chat.say('room-1', 'order #4411');
    const first = await processor.started(1);
    first.release('on it');
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('room-1')}`)).body.counters.processed === 1, 10_000, 'the first batch to complete');
    await chat.say('room-1', 'also my invoice');
    await chat.say('room-1', 'is wrong');
    await processor.started(2);
    expect((await api(gw, 'POST', `/api/v1/channels/${key('room-1')}/stop`)).body).toMatchObject({ paused: true, cancelled: true });
    await api(gw, 'POST', `/api/v1/channels/${key('room-1')}/resume`);

    const res = await api(gw, 'GET', `/api/v1/channels/${key('room-1')}/timeline`);
    expect(res.status).toBe(200);
    expect(res.body.key).toBe('chat:room-1');
    const entries = res.body.entries as Entry[];
    expect(entries.map((e) => [e.type, e.reason ?? ''])).toEqual([
      ['opened', ''],
      ['appended', ''],
      ['sealed', 'size'],
      ['started', ''],
      ['completed', ''],
      ['opened', ''],
      ['appended', ''],
      ['sealed', 'size'],
      ['started', ''],
      ['paused', ''],
      ['cancelled', 'operator'],
      ['resumed', ''],
    ]);
    const [opened, , sealed, started, completed] = entries;
    expect(sealed!.batchId).toBe(opened!.batchId);
    expect(started).toMatchObject({ batchId: opened!.batchId, messageIds: [opened!.messageIds![0], entries[1]!.messageIds![0]] });
    expect(completed!.detail).toMatch(/^1 reply in \d+ ms$/);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.at).toBeGreaterThanOrEqual(entries[i - 1]!.at);

    // limit takes the newest; a bad one is refused naming the field; a channel with none has an empty list.
    const newest = await api(gw, 'GET', `/api/v1/channels/${key('room-1')}/timeline?limit=2`);
    expect(newest.body.entries.map((e: Entry) => e.type)).toEqual(['cancelled', 'resumed']);
    const bad = await api(gw, 'GET', `/api/v1/channels/${key('room-1')}/timeline?limit=0`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain('limit');
    expect((await api(gw, 'GET', `/api/v1/channels/${key('nobody')}/timeline`)).body).toEqual({ key: 'chat:nobody', entries: [] });

    const json = await cli(['timeline', 'chat:room-1', '--json', '--url', gw.url]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(res.body);

    const table = await cli(['timeline', 'chat:room-1', '--url', gw.url]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+TYPE\s+REASON\s+BATCH\s+DETAIL$/);
    expect(lines).toHaveLength(entries.length + 2); // the header and its rule
    expect(lines[4]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\s+sealed\\s+size\\s+${opened!.batchId}\\s+2 messages$`));
    expect(lines[12]).toMatch(/\scancelled\s+operator\s/);

    const none = await cli(['timeline', 'chat:nobody', '--url', gw.url]);
    expect(none.stdout).toBe('no timeline entries for chat:nobody\n');
  });
});

import { afterAll, beforeAll } from 'vitest';
import { SettingsPolicy } from '../../../src/core/policy.js';
import { RedisBatchStore } from '../../../src/distributed/redis-store.js';
import { describeBatchStore } from '../../helpers/batch-store-suite.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

let prefixes = 0;
describeBatchStore('RedisBatchStore', (emit, policy: SettingsPolicy) =>
  RedisBatchStore.create({ redis: server.client(), policy, emit, clock: 'caller', prefix: `suite${++prefixes}` }),
);

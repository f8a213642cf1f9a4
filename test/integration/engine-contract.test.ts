import { describeEngineContract } from '../helpers/engine-suite.js';
import { distributedHarness, embeddedHarness } from '../helpers/engine-harnesses.js';
import { redisForSuite } from '../helpers/redis-server.js';

// One redis-server for the file; every distributed case gets its own key prefix (engine-harnesses.ts).
const redis = redisForSuite();

describeEngineContract('embedded (MessageQueue)', {
  kind: 'embedded',
  traits: { refusesDuplicateIds: false, drain: 'hand-back' },
  makeHarness: (options) => embeddedHarness(options),
});

describeEngineContract('distributed (DistributedQueue + BullMQ worker on Redis)', {
  kind: 'distributed',
  traits: { refusesDuplicateIds: true, drain: 'leave-in-redis' },
  makeHarness: (options) => distributedHarness(redis(), options),
});

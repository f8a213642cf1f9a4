import { InMemoryBatchStore } from '../../../src/core/memory-batch-store.js';
import { describeBatchStore } from '../../helpers/batch-store-suite.js';

describeBatchStore('InMemoryBatchStore', (emit, policy) => new InMemoryBatchStore({ emit, policy }));

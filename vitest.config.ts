import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ first: bin/batchgate.js (spawned by the e2e tests) runs the compiled code.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Child processes, real Chromium and real sockets share 2 cores; a few files at a time keeps them honest.
    maxWorkers: 2,
    // expect.poll waits for an event; its 1 s default is a timing margin a loaded machine misses.
    expect: { poll: { timeout: 15_000 } },
    // Tests that SIGKILL redis-server on purpose (in-process-cluster's "Redis is unreachable") can leave one
    // in-flight ioredis command whose "Connection is closed." rejection nobody awaits (seen in about one
    // full run in five under load; which caller leaves it is still open). Only that exact error is ignored.
    onUnhandledError(error) {
      const fromIoredisClose = error.message === 'Connection is closed.' && (error.stack ?? '').includes('ioredis/built/redis/event_handler');
      if (fromIoredisClose) return false;
    },
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});

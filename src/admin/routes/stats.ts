import type { FastifyInstance } from 'fastify';
import type { ChannelCounters } from '../../core/batch-store.js';
import type { AdminHost } from '../host.js';
import type { AdminMetrics } from '../metrics.js';
import type { EventStreamStats } from '../events-stream.js';

type Counters = Omit<ChannelCounters, never>;

const zeroCounters = (): Counters => ({ received: 0, batches: 0, processed: 0, cancelled: 0, failed: 0, dropped: 0, cleared: 0 });

function add(into: Counters, from: ChannelCounters): void {
  for (const k of Object.keys(into) as Array<keyof Counters>) into[k] += from[k] ?? 0;
}

/**
 * `GET /api/v1/stats`: gateway totals and per-platform counts. `channels`/`platforms` sum the counters of
 * the channels the queue holds or still remembers (they can go down as idle channels are forgotten);
 * `sinceStart` holds the monotonic tallies behind the Prometheus counters, which rate charts should use.
 */
export function registerStatsRoute(app: FastifyInstance, host: AdminHost, metrics: AdminMetrics, stream: EventStreamStats): void {
  const startedAt = Date.now();
  app.get('/api/v1/stats', async () => {
    const list = await host.queue.list();
    const counters = zeroCounters();
    const state = { known: list.length, active: 0, paused: 0, processing: 0, pending: 0, queuedBatches: 0, queuedMessages: 0 };
    const platforms: Record<string, { channels: number; active: number; counters: Counters; replies: { sent: number; failed: number } }> = {};
    const replyStats = host.replyStats();
    for (const adapter of host.adapters) {
      platforms[adapter.platform] = { channels: 0, active: 0, counters: zeroCounters(), replies: replyStats[adapter.platform] ?? { sent: 0, failed: 0 } };
    }
    for (const c of list) {
      add(counters, c.counters);
      const p = (platforms[c.platform] ??= { channels: 0, active: 0, counters: zeroCounters(), replies: replyStats[c.platform] ?? { sent: 0, failed: 0 } });
      p.channels++;
      add(p.counters, c.counters);
      if (!c.active) continue;
      p.active++;
      state.active++;
      if (c.paused) state.paused++;
      if (c.processing) state.processing++;
      state.pending += c.pending;
      state.queuedBatches += c.queuedBatches;
      state.queuedMessages += c.queuedMessages;
    }
    const totals = host.queue.totals();
    return {
      at: Date.now(),
      uptimeMs: Date.now() - startedAt,
      channels: state,
      counters,
      running: totals.running,
      waitingForSlot: totals.waitingForSlot,
      maxConcurrentBatches: totals.maxConcurrentBatches,
      sinceStart: { ...metrics.totals },
      batchSizes: metrics.batchSizeDistribution(),
      platforms,
      eventStream: { ...stream },
    };
  });
}

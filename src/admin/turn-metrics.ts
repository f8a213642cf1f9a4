import { Counter, type Registry } from 'prom-client';
import type { QueueTotals } from '../core/engine.js';
import type { HoldCause } from '../core/events.js';

const HOLD_CAUSES: HoldCause[] = ['typing', 'openFence', 'trailingColon', 'ellipsis', 'phrase', 'classifier', 'mediaGroup'];

/**
 * The turn-taking series: `batchgate_holds_total{reason}` (open batches whose deadline a hold moved,
 * from `batch.held` events of this process's steps) and `batchgate_typing_signals_total{held}` (typing
 * signals the engine was given, read from its totals at scrape time).
 */
export class TurnMetrics {
  private readonly holds: Counter<'reason'>;

  constructor(registers: Registry[], totals: () => QueueTotals) {
    this.holds = new Counter({ name: 'batchgate_holds_total', help: 'Open batches whose deadline a hold moved later, by reason.', labelNames: ['reason'], registers });
    for (const reason of HOLD_CAUSES) this.holds.inc({ reason }, 0);
    const seen = { signals: 0, held: 0 };
    new Counter({
      name: 'batchgate_typing_signals_total',
      help: 'Typing signals received, by whether they held an open batch (held="true") or not.',
      labelNames: ['held'],
      registers,
      collect() {
        const typing = totals().typing ?? { signals: 0, held: 0 };
        this.inc({ held: 'true' }, Math.max(0, typing.held - seen.held));
        this.inc({ held: 'false' }, Math.max(0, typing.signals - typing.held - (seen.signals - seen.held)));
        seen.signals = typing.signals;
        seen.held = typing.held;
      },
    });
  }

  held(reason: HoldCause): void {
    this.holds.inc({ reason });
  }
}

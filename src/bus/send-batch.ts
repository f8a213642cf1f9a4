/**
 * Items sent in a row to the same consumers, stored once and read by each of them: a send costs one
 * array push however many consumers it reaches, instead of one queue write per consumer. Each target
 * queues the batch as a single entry the moment it is created, so its place among that consumer's
 * other items is fixed, and the batch grows while it has {@link SendBatch.room}.
 *
 * The channel and its consumers' queues keep their last batch until the next one replaces it, so after
 * a burst at most one batch (no more items than the smallest queue size) outlives its reading.
 */
export class SendBatch<T> {
  readonly items: T[];
  /** The channel's consumer list the batch was made for; a send may join it only with the same list. */
  readonly targets: readonly object[];
  /**
   * Items it may still take: at first the least free room of its targets. Set to 0 for good (sealed)
   * once anything else is queued behind it for one of its targets, once a target read it to the end and
   * went idle, or once a target stops: later items would then overtake something or be missed.
   */
  room: number;

  constructor(first: T, targets: readonly object[], room: number) {
    this.items = [first];
    this.targets = targets;
    this.room = room - 1;
  }

  seal(): void {
    this.room = 0;
  }
}

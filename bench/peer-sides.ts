/**
 * The four sides of `npm run bench -- peer`, each fed the same paced workload: the Chat SDK's debounce
 * strategy on its memory and ioredis state adapters, and batchgate embedded (`MessageQueue`) and
 * distributed (a `DistributedQueue` gateway and a `BullBatchConsumer` worker in this process). Every side
 * runs one echo reply per batch and reports what became of each message: delivered in a batch (once, or
 * more than once), left stranded in a queue nobody drains, or refused at the door.
 */
import { createMemoryState } from '@chat-adapter/state-memory';
import { createIoRedisState } from '@chat-adapter/state-ioredis';
import { Chat, type Logger as ChatLogger, type Message, type StateAdapter } from 'chat';
import type { Redis } from 'ioredis';
import { parseConfig } from '../src/config/load.js';
import { MessageQueue } from '../src/core/message-queue.js';
import type { QueuedMessage } from '../src/core/model.js';
import { SettingsPolicy } from '../src/core/policy.js';
import { createGatewayCluster } from '../src/distributed/cluster.js';
import { WorkerProcess } from '../src/distributed/worker-process.js';
import { silentLogger } from '../src/logger.js';
import { echoText } from '../src/processors/echo.js';
import type { Processor } from '../src/processors/processor.js';
import { BenchChatAdapter, type PeerInbound } from './peer-adapter.js';

/** The quiet window on every side (the peer's `debounceMs`, our `windowMs`). */
export const WINDOW_MS = 200;
/** A side that has not accounted for every message by then has lost some: the run fails, naming how many. */
const SETTLE_TIMEOUT_MS = 120_000;

/** What became of the workload's messages on one side. */
export interface Accounting {
  /** Distinct messages handed to the bot in a batch. */
  delivered: number;
  /** Deliveries beyond the first of a message (0 when each message ran once). */
  duplicates: number;
  /** Messages still queued once the side went quiet, with no lock holder left to drain them. */
  stranded: number;
  /** Messages the side refused or dropped (queue caps, expiry). */
  refused: number;
  batches: number;
  /** Replies that reached the platform side (the bench adapter, or the gateway's delivery callback). */
  replies: number;
}

/** A side set up for one run: `push` is a platform event arriving, `settle` resolves once every message is accounted for. */
export interface PreparedSide {
  push(index: number): Promise<unknown>;
  settle(): Promise<Accounting>;
  close(): Promise<void>;
}

export type SideFactory = (tag: string, msgs: readonly PeerInbound[]) => Promise<PreparedSide>;

/** Counts deliveries per message id and resolves waiters once enough distinct ids arrived. */
class Ledger {
  private readonly seen = new Set<string>();
  duplicates = 0;
  batches = 0;
  replies = 0;
  private waiters: Array<{ target: () => boolean; resolve: () => void }> = [];

  deliver(ids: readonly string[]): void {
    this.batches++;
    for (const id of ids) {
      if (this.seen.has(id)) this.duplicates++;
      else this.seen.add(id);
    }
    this.wake();
  }

  reply(): void {
    this.replies++;
    this.wake();
  }

  get delivered(): number {
    return this.seen.size;
  }

  /** Resolves once `reached()` holds (checked on every delivery and reply); rejects after SETTLE_TIMEOUT_MS. */
  until(what: string, reached: () => boolean): Promise<void> {
    if (reached()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer bench: ${what} not reached within ${SETTLE_TIMEOUT_MS} ms (${this.delivered} delivered, ${this.replies} replies)`)), SETTLE_TIMEOUT_MS);
      this.waiters.push({ target: reached, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.target()) return true;
      w.resolve();
      return false;
    });
  }
}

/** The reply both kinds of bot send: every message's text of the batch in order (as batchgate's echo processor). */
function peerReplyText(batch: readonly Message[]): string {
  return `${batch.length} message${batch.length === 1 ? '' : 's'}: ${batch.map((m) => m.text).join(' / ')}`;
}

/** A Chat SDK logger that prints nothing and counts the events that mean a message will not be handled. */
class CountingChatLogger implements ChatLogger {
  lost = 0;
  child(): ChatLogger {
    return this;
  }
  info(message: string): void {
    if (message === 'message-dropped' || message === 'message-expired') this.lost++;
  }
  debug(): void {}
  warn(): void {}
  error(): void {}
}

/**
 * The peer: a `Chat` with the debounce strategy (`debounceMs` = our window; `maxQueueSize` = the whole
 * workload, so its drop-oldest cap never discards a message and every message can be accounted for), one
 * mention handler that takes the batch (`context.skipped` + the message) and posts one reply.
 */
export function peerSide(makeState: (tag: string) => StateAdapter): SideFactory {
  return async (tag, msgs) => {
    const state = makeState(tag);
    const adapter = new BenchChatAdapter();
    const logger = new CountingChatLogger();
    const chat = new Chat({
      userName: adapter.userName,
      adapters: { bench: adapter },
      state,
      concurrency: { strategy: 'debounce', debounceMs: WINDOW_MS, maxQueueSize: msgs.length },
      logger,
    });
    const ledger = new Ledger();
    chat.onNewMention(async (thread, message, context) => {
      const batch = [...(context?.skipped ?? []), message];
      ledger.deliver(batch.map((m) => m.id));
      await thread.post(peerReplyText(batch));
      ledger.reply();
    });
    await chat.initialize();
    const inbound = msgs.map((m) => BenchChatAdapter.message(m));
    const channels = [...new Set(msgs.map((m) => m.channelId))];
    const tasks: Promise<void>[] = [];
    return {
      push: (i) => {
        const task = adapter.receive(inbound[i]!);
        tasks.push(task);
        return task;
      },
      settle: async () => {
        // Every task has ended: no handler runs and no lock is held, so whatever is still queued stays there.
        await Promise.all(tasks);
        let stranded = 0;
        for (const channelId of channels) stranded += await state.queueDepth(BenchChatAdapter.threadId(channelId));
        return { delivered: ledger.delivered, duplicates: ledger.duplicates, stranded, refused: logger.lost, batches: ledger.batches, replies: adapter.posted };
      },
      close: () => chat.shutdown(),
    };
  };
}

/**
 * The state adapters 4.41.0 pin `chat` 4.41.0 for themselves while the bench runs `chat` 4.41.1: the same
 * StateAdapter contract declared twice, so TypeScript sees two `Message` classes. At run time the state
 * adapters take from their copy only its console logger.
 */
const asState = (adapter: unknown): StateAdapter => adapter as StateAdapter;

export const peerMemorySide: SideFactory = peerSide(() => asState(createMemoryState()));

/** The peer on Redis: its ioredis state adapter on a client of the bench's server, keys under the run's tag. */
export function peerRedisSide(client: () => Redis): SideFactory {
  return peerSide((tag) => asState(createIoRedisState({ client: client(), keyPrefix: tag, logger: new CountingChatLogger() })));
}

function queued(m: PeerInbound): QueuedMessage {
  return { id: m.id, platform: 'bench', channelId: m.channelId, userId: m.userId, userName: m.userName, text: m.text, queuedAt: m.sentAt, extra: {} };
}

/** An echo processor that also tells the ledger which messages its batch held. */
function recordingEcho(ledger: Ledger): Processor {
  return async (batch, ctx) => {
    await ctx.reply(echoText(batch));
    ledger.deliver(batch.messages.map((m) => m.id));
  };
}

/** What an enqueue answered: refused ones are accounted for, never waited for. */
function refusals(): { note: (result: { accepted: boolean }) => void; count: () => number } {
  let refused = 0;
  return { note: (result) => void (result.accepted ? undefined : refused++), count: () => refused };
}

/** batchgate embedded: a `MessageQueue` with the defaults but the window, the echo reply delivered to a counter. */
export const embeddedSide: SideFactory = async (_tag, msgs) => {
  const ledger = new Ledger();
  const refused = refusals();
  const queue = new MessageQueue({
    processor: recordingEcho(ledger),
    onReply: () => ledger.reply(),
    policy: new SettingsPolicy({ windowMs: WINDOW_MS }),
  });
  const inbound = msgs.map(queued);
  return {
    push: async (i) => refused.note(await queue.enqueue(inbound[i]!)),
    settle: async () => {
      const expected = msgs.length - refused.count();
      await ledger.until(`${expected} messages delivered`, () => ledger.delivered >= expected);
      return { delivered: ledger.delivered, duplicates: ledger.duplicates, stranded: 0, refused: refused.count(), batches: ledger.batches, replies: ledger.replies };
    },
    close: async () => {
      await queue.whenIdle();
      await queue.close();
    },
  };
};

/**
 * batchgate distributed, as `batchgate start` and `batchgate worker` build it, both in this process on the
 * bench's redis-server: the gateway's `DistributedQueue` (appends, the flusher, the dispatcher) and reply
 * relay, and a `WorkerProcess` (a `BullBatchConsumer`) running the echo processor. Done when every message
 * ran and every batch's reply came back through Redis to the gateway's delivery callback.
 */
export function distributedSide(redisUrl: string): SideFactory {
  return async (tag, msgs) => {
    const config = parseConfig({ redis: { url: redisUrl }, distributed: { prefix: tag }, batching: { defaults: { windowMs: WINDOW_MS } } }, {});
    const logger = silentLogger();
    const ledger = new Ledger();
    const refused = refusals();
    const gateway = await createGatewayCluster(config, logger, async () => ledger.reply());
    const worker = new WorkerProcess({ config: { ...config, http: { ...config.http, host: '127.0.0.1', port: 0 } }, logger, processor: recordingEcho(ledger) });
    await worker.start();
    await gateway.queue.start();
    gateway.relay.start();
    const inbound = msgs.map(queued);
    return {
      push: async (i) => refused.note(await gateway.queue.enqueue(inbound[i]!)),
      settle: async () => {
        const expected = msgs.length - refused.count();
        await ledger.until(`${expected} messages delivered and every reply relayed`, () => ledger.delivered >= expected && ledger.replies >= ledger.batches);
        return { delivered: ledger.delivered, duplicates: ledger.duplicates, stranded: 0, refused: refused.count(), batches: ledger.batches, replies: ledger.replies };
      },
      close: async () => {
        await worker.close();
        await gateway.close();
      },
    };
  };
}

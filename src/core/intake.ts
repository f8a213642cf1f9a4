import type { Logger } from 'pino';
import type { AppendResult, MaybePromise, SealResult } from './batch-store.js';
import type { Clock } from './clock.js';
import type { EnqueueResult, SettingsView } from './engine.js';
import { ErrorCode, GatewayError, UnknownChannelError } from '../errors.js';
import { MessageBatch, authorKeyOf, type QueuedMessage } from './model.js';
import { parseSettingsOverride, type ChannelSettings, type SettingsOverride } from './policy.js';
import { validateMessage } from './validate.js';

/** The store steps intake and settings use; each may answer synchronously (memory) or not (Redis). */
export interface IntakeStore<S extends SealResult> {
  // `now` is undefined for a store that keeps its own time (see IntakeOptions.storeKeepsTime).
  append(msg: QueuedMessage, now: number | undefined, channelKey: string, group?: ChannelSettings): MaybePromise<AppendResult<S>>;
  pushFront(channelKey: string, item: QueuedMessage | MessageBatch, now: number | undefined): MaybePromise<S>;
  pause(channelKey: string, now: number | undefined): MaybePromise<boolean>;
  resume(channelKey: string, now: number | undefined): MaybePromise<{ nextSeq: number | null } | undefined>;
  settings(channelKey: string): MaybePromise<ChannelSettings>;
  getOverride(channelKey: string): MaybePromise<SettingsOverride | null>;
  setOverride(channelKey: string, override: SettingsOverride, now: number | undefined): MaybePromise<{ deadline: number | null; settings: ChannelSettings }>;
  deleteOverride(channelKey: string, now: number | undefined): MaybePromise<{ deadline: number | null; settings: ChannelSettings } | null>;
}

/** What an engine gives {@link Intake}: its store and the engine-side step after each store step. */
export interface IntakeOptions<S extends SealResult> {
  store: IntakeStore<S>;
  /** Time for validation (a message's `queuedAt` default) and, unless the store keeps its own, for store steps. */
  clock: Clock;
  /** The store reads its own clock (Redis `TIME`): its steps are given no time. @defaultValue false */
  storeKeepsTime?: boolean;
  /** True once the engine is shutting down: messages are refused (`shutting down`). */
  closing(): boolean;
  /** False while the store is unreachable: messages are refused (`unavailable`). @defaultValue always true */
  available?(): boolean;
  /** Turns a validated message into what the store keeps (tags, `raw` dropped). @defaultValue as it is */
  prepare?(msg: QueuedMessage): QueuedMessage;
  /**
   * A store that can be unreachable (Redis): an append that fails refuses the message as `unavailable`
   * (not persisted, so the sender retries) instead of rejecting. @defaultValue false
   */
  refuseFailedAppend?: boolean;
  /** An open batch's deadline (store clock) to wake up for. */
  arm(deadline: number): void;
  /** A batch the store sealed (an append reached a cap, or the channel does not batch). */
  sealed(sealed: S): void;
  /** A batch put at the front of its queue. */
  frontInserted(sealed: S): void;
  /** A resumed channel whose next batch may now run (`nextSeq`: its seal order). */
  resumed(channelKey: string, nextSeq: number): void;
  /** Aborts the channel's in-flight batch for `stop`; true when one was aborted. */
  cancelInFlight(channelKey: string, why: 'stop'): MaybePromise<boolean>;
  /** A deadline as the answer gives it (this process's clock). @defaultValue as it is */
  localTime?(deadline: number): number;
  /**
   * The answer to an action the sender may rely on: with a journal, only once every step so far is
   * durable. @defaultValue answers at once
   */
  durable?<T>(value: T): Promise<T>;
  logger?: Logger;
}

/**
 * Intake, settings and `stop`, shared by both engines: validate → closing check → store step → the
 * answer (→ arm the deadline); parse an override → set → arm → read back; pause → cancel in flight. A
 * store that answers synchronously costs no promise hop per message (the journal's `durable` still gates
 * the answer); an asynchronous one is awaited.
 */
export class Intake<S extends SealResult> {
  private readonly store: IntakeStore<S>;
  private readonly clock: Clock;
  private readonly storeKeepsTime: boolean;
  private readonly options: IntakeOptions<S>;

  constructor(options: IntakeOptions<S>) {
    this.options = options;
    this.store = options.store;
    this.clock = options.clock;
    this.storeKeepsTime = options.storeKeepsTime ?? false;
  }

  /**
   * Adds a message to its channel's open batch. Bad input rejects with an InvalidMessageError naming the
   * field; a full queue (overflow `reject`), a duplicate, a closing engine or an unreachable store resolve
   * `accepted: false`.
   */
  enqueue(input: unknown): Promise<EnqueueResult> {
    const options = this.options;
    const now = this.clock.now();
    let msg: QueuedMessage;
    try {
      msg = validateMessage(input, now);
      if (options.prepare !== undefined) msg = options.prepare(msg);
    } catch (err) {
      return Promise.reject(err);
    }
    const channelKey = `${msg.platform}:${msg.channelId}`;
    const id = msg.id;
    const refused = this.refusal(channelKey, id);
    if (refused !== null) return Promise.resolve(refused);
    let result: MaybePromise<AppendResult<S>>;
    try {
      result = this.store.append(msg, this.storeKeepsTime ? undefined : now, channelKey);
    } catch (err) {
      return Promise.reject(err);
    }
    // A synchronous store: no promise hop per message (unless the journal must first write).
    if (!(result instanceof Promise)) {
      if (result.status === 'regroup') return this.appendByAuthor(msg, now, channelKey, result.settings);
      return this.durable(this.answer(result, channelKey, id));
    }
    return result.then(
      (r) => (r.status === 'regroup' ? this.appendByAuthor(msg, now, channelKey, r.settings) : this.durable(this.answer(r, channelKey, id))),
      (err: unknown) => {
        if (options.refuseFailedAppend !== true) throw err;
        options.logger?.warn({ err, channelKey }, 'append failed; message refused');
        return { accepted: false, reason: 'unavailable', channelKey, id } satisfies EnqueueResult;
      },
    );
  }

  /**
   * A channel grouped by author: the message joins its author's batch, key `platform:channelId/userId`
   * (the one place that key is made), with the channel's settings. The answer names the author's key.
   */
  private async appendByAuthor(msg: QueuedMessage, now: number, channelKey: string, settings: ChannelSettings): Promise<EnqueueResult> {
    const key = authorKeyOf(channelKey, msg.userId);
    let result: AppendResult<S>;
    try {
      result = await this.store.append(msg, this.storeKeepsTime ? undefined : now, key, settings);
    } catch (err) {
      if (this.options.refuseFailedAppend !== true) throw err;
      this.options.logger?.warn({ err, channelKey: key }, 'append failed; message refused');
      return { accepted: false, reason: 'unavailable', channelKey: key, id: msg.id };
    }
    return this.durable(this.answer(result, key, msg.id));
  }

  /** `shutting down` or `unavailable` when the message cannot be taken now, else null. */
  private refusal(channelKey: string, id: string): EnqueueResult | null {
    if (this.options.closing()) return { accepted: false, reason: 'shutting down', channelKey, id };
    if (this.options.available !== undefined && !this.options.available()) return { accepted: false, reason: 'unavailable', channelKey, id };
    return null;
  }

  private answer(result: AppendResult<S>, channelKey: string, id: string): EnqueueResult {
    switch (result.status) {
      case 'rejected':
        this.options.logger?.warn({ channelKey, limit: result.settings.maxQueuedBatches }, 'queue full: message rejected');
        return { accepted: false, reason: 'queue full', channelKey, id };
      case 'duplicate':
        return { accepted: false, reason: 'duplicate', channelKey, id };
      case 'regroup':
        // Only an append without `group` answers this; appendByAuthor passes one.
        throw new Error(`store answered regroup for the author key ${channelKey}`);
      case 'sealed':
        this.options.sealed(result.sealed);
        return { accepted: true, channelKey, id, pending: 0, typing: result.settings.typing };
      case 'open': {
        this.options.arm(result.deadline);
        const deadline = this.options.localTime === undefined ? result.deadline : this.options.localTime(result.deadline);
        return { accepted: true, channelKey, id, deadline, pending: result.pending, typing: result.settings.typing };
      }
    }
  }

  /** Puts a message or a batch ahead of everything waiting in its channel (not ahead of the one in flight). */
  async enqueueFront(item: MessageBatch | unknown): Promise<EnqueueResult> {
    let channelKey: string;
    let payload: MessageBatch | QueuedMessage;
    if (item instanceof MessageBatch) {
      if (item.size === 0) throw new GatewayError(ErrorCode.EmptyBatch, 'cannot enqueue an empty batch');
      channelKey = item.channelKey;
      payload = item;
    } else {
      const msg = validateMessage(item, this.clock.now());
      payload = this.options.prepare === undefined ? msg : this.options.prepare(msg);
      channelKey = `${payload.platform}:${payload.channelId}`;
    }
    const id = payload.id;
    const refused = this.refusal(channelKey, id);
    if (refused !== null) return refused;
    const sealed = await this.store.pushFront(channelKey, payload, this.stepTime());
    this.options.frontInserted(sealed);
    const settings = await this.store.settings(channelKey);
    return this.durable({ accepted: true, channelKey, id, pending: 0, typing: settings.typing });
  }

  /** Cancel + pause: nothing is dispatched until resume; new messages keep collecting. */
  async stop(channelKey: string): Promise<{ paused: boolean; cancelled: boolean }> {
    // Paused first, so the batch that ends now cannot hand the channel its next one.
    const known = await this.store.pause(channelKey, this.stepTime());
    if (!known) throw new UnknownChannelError(channelKey);
    const cancelled = await this.options.cancelInFlight(channelKey, 'stop');
    return this.durable({ paused: true as const, cancelled });
  }

  async resume(channelKey: string): Promise<{ paused: boolean }> {
    const result = await this.store.resume(channelKey, this.stepTime());
    if (result === undefined) throw new UnknownChannelError(channelKey);
    if (result.nextSeq !== null) this.options.resumed(channelKey, result.nextSeq);
    return this.durable({ paused: false as const });
  }

  async getSettings(channelKey: string): Promise<SettingsView> {
    const [effective, override] = await Promise.all([this.store.settings(channelKey), this.store.getOverride(channelKey)]);
    return { effective, override };
  }

  /** Validates and merges a partial override; throws InvalidSettingsError naming each failing field. */
  async setSettings(channelKey: string, input: unknown): Promise<SettingsView> {
    const override = parseSettingsOverride(input);
    const result = await this.store.setOverride(channelKey, override, this.stepTime());
    if (result.deadline !== null) this.options.arm(result.deadline);
    return this.durable(await this.getSettings(channelKey));
  }

  async deleteSettings(channelKey: string): Promise<SettingsView> {
    const result = await this.store.deleteOverride(channelKey, this.stepTime());
    if (result?.deadline != null) this.options.arm(result.deadline);
    return this.durable(await this.getSettings(channelKey));
  }

  /** The time a store step is given: none for a store that keeps its own. */
  private stepTime(): number | undefined {
    return this.storeKeepsTime ? undefined : this.clock.now();
  }

  /** An answer the caller may pass on to the sender: with a journal, only once what it accepted is durable. */
  durable<T>(value: T): Promise<T> {
    return this.options.durable === undefined ? Promise.resolve(value) : this.options.durable(value);
  }
}

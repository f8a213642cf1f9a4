import { LifecycleError } from '../errors.js';
import type { Channel, ChannelStopOptions } from './channel.js';

/**
 * Names to payload types, so look-ups come back typed:
 * `new ChannelRegistry<{ replies: OutboundMessage; events: QueueEvent }>()`. The untyped default uses
 * `any`, not `unknown`: channels are invariant, so only `any` lets it hold every `Channel<X>`.
 */
export type ChannelTypes = Record<string, any>;

type Name<M> = keyof M & string;
/** Any channel the map allows, when the name comes from the channel itself. */
type ChannelOf<M> = { [K in Name<M>]: Channel<M[K]> }[Name<M>];
type AnyChannel = Channel<any>;

/**
 * The channels of one gateway (OctoBot's `ChannelInstances`, minus the process global): each gateway
 * builds its own, so two gateways in one process, or two tests, never share a channel.
 * Channels live either by name (`set`/`get`) or grouped under a `chanId` (`setAtId`/`getAtId`).
 */
export class ChannelRegistry<M extends object = ChannelTypes> {
  private readonly byName = new Map<string, AnyChannel>();
  private readonly byId = new Map<string, Map<string, AnyChannel>>();
  private stopPromise: Promise<void> | undefined;

  /** Registers `channel` under `name` (default `channel.name`); throws if the name is taken. Returns the channel. */
  set<K extends Name<M>>(channel: Channel<M[K]>, name: K): Channel<M[K]>;
  set<C extends ChannelOf<M>>(channel: C): C;
  set(channel: AnyChannel, name?: string): AnyChannel {
    const key = name ?? channel.name;
    if (this.byName.has(key)) throw new LifecycleError(`bus channel ${key} already exists`);
    this.byName.set(key, channel);
    return channel;
  }

  /** The channel registered as `name`; throws a `LifecycleError` when there is none. */
  get<K extends Name<M>>(name: K): Channel<M[K]> {
    const channel = this.byName.get(name);
    if (channel === undefined) throw new LifecycleError(`bus channel ${name} does not exist`);
    return channel;
  }

  /** Like {@link ChannelRegistry.get}, but undefined when absent. */
  find<K extends Name<M>>(name: K): Channel<M[K]> | undefined {
    return this.byName.get(name);
  }

  has(name: Name<M>): boolean {
    return this.byName.has(name);
  }

  /** Forgets `name` (does not stop the channel). */
  delete(name: Name<M>): boolean {
    return this.byName.delete(name);
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Registers `channel` under (`chanId`, `name`); `chanId` defaults to `channel.chanId`. Throws if taken. */
  setAtId<K extends Name<M>>(channel: Channel<M[K]>, chanId: string | undefined, name: K): Channel<M[K]>;
  setAtId<C extends ChannelOf<M>>(channel: C, chanId?: string): C;
  setAtId(channel: AnyChannel, chanId?: string, name?: string): AnyChannel {
    const id = chanId ?? channel.chanId;
    if (id === undefined) throw new LifecycleError(`bus channel ${channel.name} has no chanId to register at`);
    const key = name ?? channel.name;
    let group = this.byId.get(id);
    if (group === undefined) {
      group = new Map();
      this.byId.set(id, group);
    }
    if (group.has(key)) throw new LifecycleError(`bus channel ${key} already exists at ${id}`);
    group.set(key, channel);
    return channel;
  }

  /** The channel registered under (`chanId`, `name`); throws a `LifecycleError` when there is none. */
  getAtId<K extends Name<M>>(name: K, chanId: string): Channel<M[K]> {
    const channel = this.byId.get(chanId)?.get(name);
    if (channel === undefined) throw new LifecycleError(`bus channel ${name} does not exist at ${chanId}`);
    return channel;
  }

  /** Like {@link ChannelRegistry.getAtId}, but undefined when absent. */
  findAtId<K extends Name<M>>(name: K, chanId: string): Channel<M[K]> | undefined {
    return this.byId.get(chanId)?.get(name);
  }

  /** Every channel under `chanId` by name (OctoBot's `get_channels`); throws when the id is unknown. */
  getChannels(chanId: string): ReadonlyMap<string, AnyChannel> {
    const group = this.byId.get(chanId);
    if (group === undefined) throw new LifecycleError(`bus has no channels at ${chanId}`);
    return group;
  }

  /** Known chanIds. */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  deleteAtId(name: Name<M>, chanId: string): boolean {
    return this.byId.get(chanId)?.delete(name) ?? false;
  }

  /** Forgets every channel under `chanId` (OctoBot's `del_channel_container`). */
  deleteContainer(chanId: string): boolean {
    return this.byId.delete(chanId);
  }

  /** Every channel, by name then by id, each once. */
  all(): AnyChannel[] {
    const seen = new Set<AnyChannel>(this.byName.values());
    for (const group of this.byId.values()) for (const channel of group.values()) seen.add(channel);
    return [...seen];
  }

  /** Starts every channel. */
  async start(): Promise<void> {
    for (const channel of this.all()) await channel.start();
  }

  /** Stops every channel in registration order; a failing one does not stop the rest. Idempotent. */
  stop(options: ChannelStopOptions = {}): Promise<void> {
    return (this.stopPromise ??= (async () => {
      const results = await Promise.allSettled(this.all().map((channel) => channel.stop(options)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    })());
  }
}

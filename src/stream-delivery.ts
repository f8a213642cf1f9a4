import type { Logger } from 'pino';
import type { MessageEditor, PlatformAdapter } from '../adapters/adapter.js';
import type { OutboundMessage } from './core/model.js';

/** Appended to what a stream had shown when its batch was cancelled, stopped, interrupted or shut down. */
export const STOPPED_MARK = ' … (stopped)';
/** Appended when its processor failed (threw, or passed its timeout) mid-stream. */
export const FAILED_MARK = ' … (failed)';

/** A snapshot to show, or the order to close the message with a mark. */
type Next = { kind: 'snapshot'; reply: OutboundMessage } | { kind: 'mark'; mark: string };

interface StreamState {
  readonly id: string;
  readonly batchId: string;
  readonly adapter: PlatformAdapter;
  readonly editor: MessageEditor;
  /** The first snapshot, kept to address the mark (channel, thread) when no later one came. */
  template: OutboundMessage;
  messageId: string | null;
  /** The text the platform shows now. */
  shown: string;
  /** When the last call on this message ended (performance clock). */
  lastCallAt: number;
  next: Next | null;
  /** No snapshot is taken any more: the final one arrived, or the batch ended without it. */
  closed: boolean;
  loop: Promise<void> | null;
}

const now = () => performance.now();

/**
 * Shows streamed replies: on an adapter with a {@link MessageEditor} each stream is one message, posted at
 * its first snapshot and edited as later ones arrive, at most once per `minEditIntervalMs` per message
 * (snapshots that arrive meanwhile coalesce: only the latest is shown) and always with the last one.
 * Adapters that cannot edit get only the final snapshot, as an ordinary reply. When a batch ends without
 * its final snapshot (cancel, stop, interrupt, failure) {@link end} closes its streams: what was shown
 * stays, with a mark, and nothing that arrives later is shown.
 */
export class StreamDelivery {
  private readonly streams = new Map<string, StreamState>();
  /** Batches that ended without their final snapshots: late snapshots of theirs are dropped. */
  private readonly ended = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /**
   * Takes one snapshot. Resolves at once for a snapshot that is not final (the reply chain moves on while
   * the edit waits its turn), and once the message shows the final one for the last.
   */
  deliver(adapter: PlatformAdapter, reply: OutboundMessage): Promise<void> {
    const part = reply.stream;
    if (part === undefined || this.ended.has(reply.batchId)) return Promise.resolve();
    const editor = adapter.editor;
    if (editor === undefined) {
      if (!part.final) return Promise.resolve();
      const { stream: _stream, ...plain } = reply;
      return adapter.send(plain);
    }
    let state = this.streams.get(part.id);
    if (state === undefined) {
      state = { id: part.id, batchId: reply.batchId, adapter, editor, template: reply, messageId: null, shown: '', lastCallAt: -Infinity, next: null, closed: false, loop: null };
      this.streams.set(part.id, state);
    }
    if (state.closed) return Promise.resolve();
    state.next = { kind: 'snapshot', reply };
    if (part.final) state.closed = true;
    const loop = this.kick(state);
    return part.final ? loop : Promise.resolve();
  }

  /**
   * A batch ended without its streams' final snapshots: each message that shows something gets `mark`
   * appended to the text it shows; snapshots not shown yet are dropped.
   */
  end(batchId: string, mark: string): void {
    this.ended.add(batchId);
    // Bounded: a batch id only matters while its late snapshots may still arrive.
    if (this.ended.size > 10_000) this.ended.delete(this.ended.values().next().value!);
    for (const state of this.streams.values()) {
      // A stream whose final snapshot arrived ends as its processor wrote it.
      if (state.batchId !== batchId || state.closed) continue;
      state.closed = true;
      state.next = { kind: 'mark', mark };
      void this.kick(state);
    }
  }

  /** Resolves when every message being written now is done (shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => s.loop));
  }

  private kick(state: StreamState): Promise<void> {
    state.loop ??= this.run(state).finally(() => {
      state.loop = null;
      if (state.closed && state.next === null) this.streams.delete(state.id);
    });
    return state.loop;
  }

  private async run(state: StreamState): Promise<void> {
    const { editor } = state;
    const intervalMs = editor.minEditIntervalMs ?? 1_000;
    while (state.next !== null) {
      if (state.messageId !== null) {
        // Wait out the spacing first, then take whatever is newest by then.
        for (let wait = state.lastCallAt + intervalMs - now(); wait > 0; wait = state.lastCallAt + intervalMs - now()) {
          await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
        }
      }
      const next = state.next;
      state.next = null;
      if (next.kind === 'mark') {
        if (state.messageId !== null) await this.call(state, () => editor.edit(state.messageId!, { ...state.template, text: fit(state.shown, editor.maxLength - next.mark.length) + next.mark, stream: { id: state.id, final: true, stopped: true } }));
        continue;
      }
      const { reply } = next;
      state.template = reply;
      const final = reply.stream?.final === true;
      const text = final ? fit(reply.text, editor.maxLength, '') : fit(reply.text, editor.maxLength);
      if (text.trim() === '' || text === state.shown) {
        if (!final || text.trim() === '') continue;
      }
      const shown = await this.call(state, async () => {
        if (state.messageId === null) state.messageId = await editor.post({ ...reply, text });
        else if (text !== state.shown) await editor.edit(state.messageId, { ...reply, text });
      });
      if (shown) state.shown = text;
      if (final && reply.text.length > text.length) {
        // The rest of a long answer follows as ordinary replies (the adapter splits them).
        const { stream: _stream, ...plain } = reply;
        await state.adapter.send({ ...plain, text: reply.text.slice(text.length).trimStart() }).catch((err: unknown) => this.fail(state, err));
      }
    }
  }

  private async call(state: StreamState, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (err) {
      this.fail(state, err);
      return false;
    } finally {
      state.lastCallAt = now();
    }
  }

  private fail(state: StreamState, err: unknown): void {
    this.logger.error({ err, batchId: state.batchId, platform: state.adapter.platform }, 'streamed reply could not be shown');
  }
}

/**
 * The start of `text` that fits in `max` characters: cut at the last line break or space of the second
 * half when there is one, with `ellipsis` (a stream still growing) after it.
 */
function fit(text: string, max: number, ellipsis = '…'): string {
  if (text.length <= max) return text;
  const room = Math.max(1, max - ellipsis.length);
  const cut = Math.max(text.lastIndexOf('\n', room), text.lastIndexOf(' ', room));
  return text.slice(0, cut > room / 2 ? cut : room) + ellipsis;
}

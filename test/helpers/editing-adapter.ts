import type { MessageEditor } from '../../adapters/adapter.js';
import type { OutboundMessage } from '../../src/core/model.js';
import { RecordingAdapter } from './recording-adapter.js';

/** One call the gateway made on the editor: a post (new message) or an edit, with when it arrived. */
export interface EditorCall {
  kind: 'post' | 'edit';
  messageId: string;
  text: string;
  at: number;
}

/** A RecordingAdapter that can edit its messages, so streamed replies reach it as posts and edits. */
export class EditingAdapter extends RecordingAdapter {
  readonly calls: EditorCall[] = [];
  /** What each posted message shows now. */
  readonly shown = new Map<string, string>();
  private nextId = 1;

  readonly editor: MessageEditor = {
    maxLength: 2_000,
    post: async (reply: OutboundMessage) => {
      const messageId = `m${this.nextId++}`;
      this.record({ kind: 'post', messageId, text: reply.text, at: Date.now() });
      return messageId;
    },
    edit: async (messageId: string, reply: OutboundMessage) => {
      this.record({ kind: 'edit', messageId, text: reply.text, at: Date.now() });
    },
  };

  private record(call: EditorCall): void {
    this.calls.push(call);
    this.shown.set(call.messageId, call.text);
    for (const wake of this.waiters.splice(0)) wake();
  }
}

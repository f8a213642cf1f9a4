/**
 * A minimal in-process Chat SDK adapter for the peer benchmark: no platform, no network. It feeds
 * messages through `chat.processMessage` (the entry point every real adapter's webhook calls after
 * parsing), and `postMessage` only counts what the bot posted. Everything else a platform would do
 * (fetching history, reactions, modals) is outside the workload and throws if the SDK ever asks.
 */
import { Message, paragraph, root, text, type Adapter, type AdapterPostableMessage, type ChatInstance, type FetchResult, type FormattedContent, type RawMessage, type ThreadInfo } from 'chat';

const NAME = 'bench';

function unused(what: string): never {
  throw new Error(`bench adapter: ${what} is outside the benchmark workload`);
}

/** One inbound message of the workload, as the bench hands it to either side. */
export interface PeerInbound {
  id: string;
  channelId: string;
  userId: string;
  userName: string;
  text: string;
  sentAt: number;
}

/** The adapter: `receive` is a platform event arriving, `posted` counts the bot's replies. */
export class BenchChatAdapter implements Adapter<string, null> {
  readonly name = NAME;
  readonly userName = 'bench-bot';
  // One lock per channel: the bench's channels are its conversations, like WhatsApp's and Telegram's.
  readonly lockScope = 'channel' as const;
  posted = 0;
  private chat: ChatInstance | undefined;
  private sent = 0;

  /** The thread id of a channel: `bench:<channelId>`. */
  static threadId(channelId: string): string {
    return `${NAME}:${channelId}`;
  }

  /**
   * A message as a platform adapter builds it from a webhook: plain text with its one-paragraph AST,
   * `isMention` set (the bench's bot is addressed in every message, so no text scan decides it).
   */
  static message(m: PeerInbound): Message<null> {
    return new Message({
      id: m.id,
      threadId: BenchChatAdapter.threadId(m.channelId),
      text: m.text,
      formatted: root([paragraph([text(m.text)])]),
      raw: null,
      author: { userId: m.userId, userName: m.userName, fullName: m.userName, isBot: false, isMe: false },
      metadata: { dateSent: new Date(m.sentAt), edited: false },
      attachments: [],
      isMention: true,
    });
  }

  async initialize(chat: ChatInstance): Promise<void> {
    this.chat = chat;
  }

  /** A platform event: resolves when the SDK is done with it (for the lock holder, after its handler ran). */
  receive(message: Message<null>): Promise<void> {
    if (this.chat === undefined) throw new Error('bench adapter: chat.initialize() first');
    return this.chat.processMessage(this, message.threadId, message);
  }

  async postMessage(threadId: string, _message: AdapterPostableMessage): Promise<RawMessage<null>> {
    this.posted++;
    return { id: `sent-${++this.sent}`, raw: null, threadId };
  }

  channelIdFromThreadId(threadId: string): string {
    return threadId;
  }
  encodeThreadId(channelId: string): string {
    return BenchChatAdapter.threadId(channelId);
  }
  decodeThreadId(threadId: string): string {
    return threadId.slice(NAME.length + 1);
  }
  parseMessage(): Message<null> {
    return unused('parseMessage');
  }
  renderFormatted(_content: FormattedContent): string {
    return unused('renderFormatted');
  }
  async startTyping(): Promise<void> {}
  async handleWebhook(): Promise<Response> {
    return unused('handleWebhook');
  }
  async fetchThread(threadId: string): Promise<ThreadInfo> {
    return { id: threadId, channelId: threadId, metadata: {} };
  }
  async fetchMessages(): Promise<FetchResult<null>> {
    return unused('fetchMessages');
  }
  async editMessage(): Promise<RawMessage<null>> {
    return unused('editMessage');
  }
  async deleteMessage(): Promise<void> {
    unused('deleteMessage');
  }
  async addReaction(): Promise<void> {
    unused('addReaction');
  }
  async removeReaction(): Promise<void> {
    unused('removeReaction');
  }
}

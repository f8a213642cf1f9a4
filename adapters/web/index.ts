export { WebAdapter, CHAT_WS_PATH, type WebAdapterOptions } from './web-adapter.js';
export {
  CHANNEL_ID_PATTERN,
  CloseCode,
  DEFAULT_MAX_TEXT_CHARS,
  ServerFrame,
  parseClientFrame,
  type ClientFrame,
  type ErrorFrame,
  type HelloFrame,
  type MessageFrame,
} from './protocol.js';
export { ReplyBuffer } from './reply-buffer.js';

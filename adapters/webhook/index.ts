export { WebhookAdapter, createWebhookAdapter, type WebhookAdapterOptions, type WebhookStats } from './webhook-adapter.js';
export { ReplySender, type ReplySenderOptions, type ReplyStats } from './reply-sender.js';
export { inboundMessageSchema, MAX_ATTACHMENTS, MAX_EXTRA_BYTES, MAX_TEXT_CHARS, type Attachment, type InboundBody } from './inbound-schema.js';
export { signatureHeaders, signatureOf, verifySignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, SIGNATURE_TOLERANCE_S } from '../../src/delivery/signature.js';

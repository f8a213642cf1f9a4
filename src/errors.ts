/**
 * One coded error type for the whole gateway. Handlers branch on `code` (or `instanceof`), never on
 * message text; each code has one HTTP status in {@link ErrorStatus}, documented in docs/errors.md.
 */
export const ErrorCode = {
  Config: 'BG_ERR_CONFIG',
  InvalidMessage: 'BG_ERR_INVALID_MESSAGE',
  InvalidSettings: 'BG_ERR_INVALID_SETTINGS',
  QueueFull: 'BG_ERR_QUEUE_FULL',
  Duplicate: 'BG_ERR_DUPLICATE',
  EmptyBatch: 'BG_ERR_EMPTY_BATCH',
  UnknownChannel: 'BG_ERR_UNKNOWN_CHANNEL',
  BadSignature: 'BG_ERR_BAD_SIGNATURE',
  Unauthorized: 'BG_ERR_UNAUTHORIZED',
  Forbidden: 'BG_ERR_FORBIDDEN',
  BadRequest: 'BG_ERR_BAD_REQUEST',
  PayloadTooLarge: 'BG_ERR_PAYLOAD_TOO_LARGE',
  ShuttingDown: 'BG_ERR_SHUTTING_DOWN',
  /** Distributed mode: Redis is unreachable, so nothing can be persisted; retry later. */
  Unavailable: 'BG_ERR_UNAVAILABLE',
  /** A platform's inbound route while its adapter is starting or closing; the platform retries later. */
  NotReady: 'BG_ERR_NOT_READY',
  Lifecycle: 'BG_ERR_LIFECYCLE',
  ProcessorLoad: 'BG_ERR_PROCESSOR_LOAD',
  Processor: 'BG_ERR_PROCESSOR',
  ProcessorTimeout: 'BG_ERR_PROCESSOR_TIMEOUT',
  Cancelled: 'BG_ERR_CANCELLED',
  Adapter: 'BG_ERR_ADAPTER',
  Upstream: 'BG_ERR_UPSTREAM',
  Internal: 'BG_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each code: the admin API and webhook answer with these. */
export const ErrorStatus: Record<ErrorCode, number> = {
  BG_ERR_CONFIG: 500,
  BG_ERR_INVALID_MESSAGE: 400,
  BG_ERR_INVALID_SETTINGS: 400,
  BG_ERR_QUEUE_FULL: 429,
  BG_ERR_DUPLICATE: 200,
  BG_ERR_EMPTY_BATCH: 500,
  BG_ERR_UNKNOWN_CHANNEL: 404,
  BG_ERR_BAD_SIGNATURE: 401,
  BG_ERR_UNAUTHORIZED: 401,
  BG_ERR_FORBIDDEN: 403,
  BG_ERR_BAD_REQUEST: 400,
  BG_ERR_PAYLOAD_TOO_LARGE: 413,
  BG_ERR_SHUTTING_DOWN: 503,
  BG_ERR_UNAVAILABLE: 503,
  BG_ERR_NOT_READY: 503,
  BG_ERR_LIFECYCLE: 500,
  BG_ERR_PROCESSOR_LOAD: 500,
  BG_ERR_PROCESSOR: 502,
  BG_ERR_PROCESSOR_TIMEOUT: 504,
  BG_ERR_CANCELLED: 409,
  BG_ERR_ADAPTER: 502,
  BG_ERR_UPSTREAM: 502,
  BG_ERR_INTERNAL: 500,
};

/** The codes `accept` turns a message away with (`AcceptResult.reason`): one vocabulary for every adapter. */
export type RefusalCode =
  | typeof ErrorCode.Duplicate
  | typeof ErrorCode.QueueFull
  | typeof ErrorCode.ShuttingDown
  | typeof ErrorCode.Unavailable
  | typeof ErrorCode.InvalidMessage;

/**
 * How each refusal is worded where a client reads it: the webhook's `reason` field and the web chat's error
 * frame. These words are part of those payloads (docs/webhook.md, docs/web-chat.md).
 */
export const RefusalWord: Record<RefusalCode, string> = {
  BG_ERR_DUPLICATE: 'duplicate',
  BG_ERR_QUEUE_FULL: 'queue full',
  BG_ERR_SHUTTING_DOWN: 'shutting down',
  BG_ERR_UNAVAILABLE: 'unavailable',
  BG_ERR_INVALID_MESSAGE: 'invalid',
};

/** The engine's refusals (`EnqueueResult.reason`) as codes: how the gateway's `accept` answers them to adapters. */
export const EngineRefusalCode: Record<'duplicate' | 'queue full' | 'shutting down' | 'unavailable', RefusalCode> = {
  duplicate: ErrorCode.Duplicate,
  'queue full': ErrorCode.QueueFull,
  'shutting down': ErrorCode.ShuttingDown,
  unavailable: ErrorCode.Unavailable,
};

/** What each refusal tells an HTTP client, before the refusal's detail. */
const RefusalMessage: Record<RefusalCode, string> = {
  BG_ERR_DUPLICATE: 'duplicate',
  BG_ERR_QUEUE_FULL: 'queue full',
  BG_ERR_SHUTTING_DOWN: 'the gateway is shutting down and accepts no new messages',
  BG_ERR_UNAVAILABLE: 'the gateway cannot persist messages right now (Redis unreachable); retry later',
  BG_ERR_INVALID_MESSAGE: 'message rejected as invalid',
};

/** A problem with one field of an input, as reported to the caller. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `windowMs` or `adapters.slack.appToken`. */
  path: string;
  message: string;
}

/** Base of every error the gateway raises on purpose. Data lives on fields, the original error in `cause`. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  /** HTTP status for this error's code. */
  get statusCode(): number {
    return ErrorStatus[this.code];
  }

  toJSON(): { code: ErrorCode; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

/** Input that fails validation; `issues` names every failing field. */
export class ValidationError extends GatewayError {
  readonly issues: FieldIssue[];
  constructor(code: ErrorCode, message: string, issues: FieldIssue[], cause?: unknown) {
    super(code, message, { cause, details: { issues } });
    this.issues = issues;
  }
}

export class ConfigError extends ValidationError {
  constructor(message: string, issues: FieldIssue[] = [], cause?: unknown) {
    super(ErrorCode.Config, message, issues, cause);
  }
}

export class InvalidMessageError extends ValidationError {
  constructor(issues: FieldIssue[]) {
    super(ErrorCode.InvalidMessage, `invalid message: ${formatIssues(issues)}`, issues);
  }
}

export class InvalidSettingsError extends ValidationError {
  constructor(issues: FieldIssue[]) {
    super(ErrorCode.InvalidSettings, `invalid settings: ${formatIssues(issues)}`, issues);
  }
}

export class QueueFullError extends GatewayError {
  constructor(readonly channelKey: string, readonly limit: number) {
    super(ErrorCode.QueueFull, `channel ${channelKey} has ${limit} batches waiting (overflow: reject)`, {
      details: { channelKey, limit },
    });
  }
}

export class EmptyBatchError extends GatewayError {
  constructor() {
    super(ErrorCode.EmptyBatch, 'batch is empty and has no channel');
  }
}

export class UnknownChannelError extends GatewayError {
  constructor(readonly channelKey: string) {
    super(ErrorCode.UnknownChannel, `unknown channel ${channelKey}`, { details: { channelKey } });
  }
}

export class ShuttingDownError extends GatewayError {
  constructor() {
    super(ErrorCode.ShuttingDown, 'the gateway is shutting down and accepts no new messages');
  }
}

export class LifecycleError extends GatewayError {
  constructor(message: string) {
    super(ErrorCode.Lifecycle, message);
  }
}

export class ProcessorLoadError extends GatewayError {
  constructor(readonly path: string, message: string, cause?: unknown) {
    super(ErrorCode.ProcessorLoad, `cannot load processor module ${path}: ${message}`, { cause, details: { path } });
  }
}

export class ProcessorTimeoutError extends GatewayError {
  constructor(readonly timeoutMs: number) {
    super(ErrorCode.ProcessorTimeout, `processor passed its ${timeoutMs} ms timeout`, { details: { timeoutMs } });
  }
}

export class AdapterError extends GatewayError {
  constructor(readonly platform: string, message: string, cause?: unknown) {
    super(ErrorCode.Adapter, `${platform} adapter: ${message}`, { cause, details: { platform } });
  }
}

/**
 * The coded error for a refusal `accept` answered, carrying its word in `details.reason`; an invalid message
 * becomes an {@link InvalidMessageError} whose one issue is the detail.
 */
export function refusalError(code: RefusalCode, detail?: string): GatewayError {
  if (code === ErrorCode.InvalidMessage) return new InvalidMessageError([{ path: '', message: detail ?? RefusalMessage[code] }]);
  const suffix = detail ? `: ${detail}` : '';
  return new GatewayError(code, `${RefusalMessage[code]}${suffix}`, { details: { reason: RefusalWord[code] } });
}

/** Wraps anything thrown so handlers always see a coded error. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GatewayError(ErrorCode.Internal, message, { cause: err });
}

export function formatIssues(issues: FieldIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

import { request, type Dispatcher } from 'undici';
import { ErrorCode, GatewayError } from '../../errors.js';
import { backoffDelayMs, sleep } from '../../delivery/backoff.js';
import { sseData } from './sse.js';

/** One message of a chat-completions request. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatCompletionsOptions {
  /** Base URL up to the version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1` (Ollama). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when not empty (local servers need none). */
  apiKey: string;
  model: string;
  maxTokens?: number;
  temperature?: number;
  /** Bounds each attempt, from the request until the last byte of the answer. */
  timeoutMs: number;
  /** Tries in all for 429, 5xx and network errors (4xx other than 429 fail at once). */
  attempts: number;
  /** Longest single wait for a `Retry-After`; a longer one fails the batch. @defaultValue 60000 */
  maxRetryWaitMs?: number;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
}

/**
 * A small client of `POST {baseUrl}/chat/completions` (OpenAI's wire format, which Ollama, vLLM, LM
 * Studio and llama.cpp's server speak too). The caller's signal aborts the HTTP request itself, so a
 * cancelled batch closes the connection and the server stops generating.
 */
export class ChatCompletionsClient {
  readonly #url: string;

  constructor(private readonly options: ChatCompletionsOptions) {
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  /** One answer, whole. */
  async complete(messages: ChatMessage[], signal: AbortSignal, onUsage: (usage: ChatUsage) => void): Promise<string> {
    return this.#attempt(messages, false, signal, async (res) => {
      const json = (await res.body.json()) as CompletionBody;
      if (json.error) throw upstreamError(200, json.error);
      const usage = usageOf(json.usage);
      if (usage) onUsage(usage);
      const content = json.choices?.[0]?.message?.content;
      return typeof content === 'string' ? content : '';
    });
  }

  /** The answer as it is generated: text deltas, then (if the server sends it) the usage. */
  async *stream(messages: ChatMessage[], signal: AbortSignal, onUsage: (usage: ChatUsage) => void): AsyncGenerator<string> {
    const attempt = new AbortController();
    const linked = AbortSignal.any([signal, attempt.signal]);
    const res = await this.#attempt(messages, true, linked, async (r) => r);
    try {
      for await (const data of sseData(res.body)) {
        if (data === '[DONE]') return;
        let chunk: CompletionBody;
        try {
          chunk = JSON.parse(data) as CompletionBody;
        } catch {
          throw new GatewayError(ErrorCode.Upstream, `chat completions stream sent a chunk that is not JSON: ${data.slice(0, 200)}`);
        }
        if (chunk.error) throw upstreamError(200, chunk.error);
        const usage = usageOf(chunk.usage);
        if (usage) onUsage(usage);
        const delta = chunk.choices?.[0]?.delta?.content;
        if (typeof delta === 'string' && delta !== '') yield delta;
      }
    } catch (err) {
      throw signal.aborted ? signal.reason : err;
    } finally {
      // Returned early (cancel) or failed: close the connection so the server stops generating.
      attempt.abort();
      res.body.destroy();
    }
  }

  /** Sends the request, retrying 429/5xx/network errors; `read` consumes a 200 response. */
  async #attempt<T>(messages: ChatMessage[], stream: boolean, signal: AbortSignal, read: (res: Dispatcher.ResponseData) => Promise<T>): Promise<T> {
    const { options } = this;
    const body = JSON.stringify({
      model: options.model,
      messages,
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
      ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const linked = AbortSignal.any([signal, timeout]);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(this.#url, { method: 'POST', headers, body, signal: linked });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const why = timeout.aborted ? `did not answer within ${options.timeoutMs} ms` : `unreachable: ${(err as Error).message}`;
        if (attempt >= options.attempts) throw new GatewayError(ErrorCode.Upstream, `chat completions at ${this.#url} ${why}`, { cause: err });
        await sleep(backoffDelayMs(attempt, 500, 8_000), signal);
        continue;
      }
      if (res.statusCode === 200) {
        try {
          return await read(res);
        } catch (err) {
          res.body.destroy();
          if (signal.aborted) throw signal.reason;
          if (timeout.aborted) throw new GatewayError(ErrorCode.Upstream, `chat completions at ${this.#url} passed ${options.timeoutMs} ms`, { cause: err });
          throw err;
        }
      }
      const text = await res.body.text().catch(() => '');
      const error = parseError(text);
      const retryable = res.statusCode === 429 || res.statusCode >= 500;
      if (!retryable || attempt >= options.attempts) throw upstreamError(res.statusCode, error ?? { message: text.slice(0, 300) });
      const waitMs = retryAfterMs(res.headers) ?? backoffDelayMs(attempt, 500, 8_000);
      if (waitMs > (options.maxRetryWaitMs ?? 60_000)) throw upstreamError(res.statusCode, error ?? { message: `Retry-After ${waitMs} ms is longer than the longest wait` });
      await sleep(waitMs, signal);
    }
  }
}

interface UpstreamErrorBody {
  message?: string;
  type?: string;
  code?: string | number | null;
}

interface CompletionBody {
  choices?: Array<{ message?: { content?: unknown }; delta?: { content?: unknown } }> | null;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: UpstreamErrorBody;
}

function usageOf(usage: CompletionBody['usage']): ChatUsage | null {
  if (!usage || typeof usage.prompt_tokens !== 'number' || typeof usage.completion_tokens !== 'number') return null;
  return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
}

function parseError(text: string): UpstreamErrorBody | null {
  try {
    const json = JSON.parse(text) as { error?: UpstreamErrorBody | string };
    if (typeof json.error === 'string') return { message: json.error };
    return json.error ?? null;
  } catch {
    return null;
  }
}

function upstreamError(status: number, error: UpstreamErrorBody): GatewayError {
  const code = error.code ?? error.type;
  return new GatewayError(ErrorCode.Upstream, `chat completions answered ${status}${code ? ` (${String(code)})` : ''}: ${error.message ?? 'no message'}`, {
    details: { status, ...(code ? { upstreamCode: String(code) } : {}) },
  });
}

/** `retry-after-ms` (OpenAI), else `Retry-After` in seconds or as an HTTP date. */
function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | null {
  const first = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const ms = Number(first('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0 && first('retry-after-ms') !== undefined) return ms;
  const value = first('retry-after');
  if (value === undefined) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

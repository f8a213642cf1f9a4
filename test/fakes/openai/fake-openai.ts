import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI-compatible server: `POST /v1/chat/completions` in the real wire format.
 *
 * - JSON answers: `{ id, object: 'chat.completion', created, model, choices: [{ index, message: { role,
 *   content }, finish_reason }], usage: { prompt_tokens, completion_tokens, total_tokens } }`.
 * - Streams (`stream: true`): `text/event-stream` of `data: {chunk}` events, `object:
 *   'chat.completion.chunk'`, the first delta carrying `role`, then `content` deltas, a last chunk with
 *   `finish_reason: 'stop'`, with `stream_options.include_usage` one more chunk with `choices: []` and
 *   `usage`, then `data: [DONE]`. With `fragment`, every event is written in two pieces split mid-line,
 *   so a client must buffer lines across network chunks.
 * - Errors: `{ error: { message, type, param: null, code } }` with the status, 429 with `Retry-After`.
 *
 * Each request takes the next scripted answer ({@link FakeOpenAi.enqueue}); with none scripted it
 * answers `echo: <last user message>`. Requests are recorded; a held stream tells when the client closed
 * its connection before the end (a cancelled generation).
 */
export interface RecordedRequest {
  body: ChatRequestBody;
  headers: IncomingMessage['headers'];
  at: number;
}

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  temperature?: number;
}

export type FakeAnswer =
  | { type: 'json'; content: string; usage?: { prompt: number; completion: number } }
  | { type: 'stream'; stream: FakeStream }
  | { type: 'error'; status: number; message: string; errorType?: string; code?: string; retryAfter?: string };

const now = () => Math.floor(Date.now() / 1000);

/** A stream the test writes: `push` deltas, then `end`; `closedEarly` resolves if the client hangs up first. */
export class FakeStream {
  #res: ServerResponse | null = null;
  #includeUsage = false;
  #fragment = false;
  #model = '';
  #queued: string[] = [];
  #ended = false;
  #resolveOpened!: () => void;
  #resolveClosedEarly!: () => void;
  /** Resolves when a request took this stream and its headers went out. */
  readonly opened = new Promise<void>((r) => (this.#resolveOpened = r));
  /** Resolves when the client closed the connection before the stream's end. */
  readonly closedEarly = new Promise<void>((r) => (this.#resolveClosedEarly = r));
  /** Deltas written so far. */
  readonly written: string[] = [];

  constructor(readonly usage: { prompt: number; completion: number } = { prompt: 11, completion: 7 }) {}

  /** @internal */
  attach(res: ServerResponse, body: ChatRequestBody, fragment: boolean): void {
    this.#res = res;
    this.#includeUsage = body.stream_options?.include_usage === true;
    this.#fragment = fragment;
    this.#model = body.model;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.on('close', () => {
      if (!this.#ended) this.#resolveClosedEarly();
    });
    this.#event(this.#chunk({ role: 'assistant', content: '' }, null));
    this.#resolveOpened();
    for (const d of this.#queued.splice(0)) this.push(d);
  }

  push(delta: string): void {
    if (this.#res === null) {
      this.#queued.push(delta);
      return;
    }
    this.written.push(delta);
    this.#event(this.#chunk({ content: delta }, null));
  }

  end(): void {
    const res = this.#res;
    if (res === null) throw new Error('end() before a request took the stream');
    this.#ended = true;
    this.#event(this.#chunk({}, 'stop'));
    if (this.#includeUsage) {
      const { prompt, completion } = this.usage;
      this.#event({ ...this.#base(), choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });
    }
    this.#write('data: [DONE]\n\n');
    res.end();
  }

  /** An error event mid-stream, as OpenAI sends one, then the end. */
  fail(message: string): void {
    this.#ended = true;
    this.#event({ error: { message, type: 'server_error', param: null, code: null } });
    this.#res?.end();
  }

  #base() {
    return { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: now(), model: this.#model, usage: null };
  }

  #chunk(delta: Record<string, unknown>, finish: string | null) {
    return { ...this.#base(), choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
  }

  #event(payload: unknown): void {
    this.#write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  #write(text: string): void {
    const res = this.#res;
    if (res === null || res.destroyed) return;
    if (!this.#fragment) {
      res.write(text);
      return;
    }
    // Split inside the line (and inside a multi-byte character when there is one).
    const bytes = Buffer.from(text);
    const cut = Math.max(1, Math.floor(bytes.length / 2));
    res.write(bytes.subarray(0, cut));
    res.write(bytes.subarray(cut));
  }
}

export interface FakeOpenAi {
  /** Base URL to configure, ending in `/v1`. */
  baseUrl: string;
  requests: RecordedRequest[];
  enqueue(...answers: FakeAnswer[]): void;
  /** Resolves once `n` requests arrived. */
  waitForRequests(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeOpenAi(options: { fragment?: boolean } = {}): Promise<FakeOpenAi> {
  const requests: RecordedRequest[] = [];
  const script: FakeAnswer[] = [];
  let waiters: Array<() => void> = [];
  const server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      sendError(res, 404, `Unknown request URL: ${req.method} ${req.url}`, 'invalid_request_error', 'unknown_url');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: ChatRequestBody;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestBody;
    } catch {
      sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
      return;
    }
    requests.push({ body, headers: req.headers, at: Date.now() });
    for (const w of waiters.splice(0)) w();
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      sendError(res, 400, "you must provide a model parameter and messages", 'invalid_request_error', null);
      return;
    }
    const answer = script.shift() ?? { type: 'json', content: `echo: ${body.messages.at(-1)?.content ?? ''}` };
    if (answer.type === 'error') {
      sendError(res, answer.status, answer.message, answer.errorType ?? 'server_error', answer.code ?? null, answer.retryAfter);
      return;
    }
    if (answer.type === 'stream') {
      if (body.stream !== true) throw new Error('a stream was scripted for a request without stream: true');
      answer.stream.attach(res, body, options.fragment === true);
      return;
    }
    if (body.stream === true) {
      // A scripted JSON answer to a streaming request goes out as a stream of one delta.
      const stream = new FakeStream(answer.usage);
      stream.attach(res, body, options.fragment === true);
      stream.push(answer.content);
      stream.end();
      return;
    }
    const usage = answer.usage ?? { prompt: 11, completion: 7 };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: now(),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: answer.content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
      }),
    );
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...answers) => script.push(...answers),
    waitForRequests: async (n) => {
      while (requests.length < n) await new Promise<void>((r) => waiters.push(r));
    },
    close: async () => {
      waiters = [];
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null, retryAfter?: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  res.writeHead(status, headers);
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

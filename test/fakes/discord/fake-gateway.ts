import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { guildCreatePayload, readyPayload, type WorldIds } from './payloads.js';

/** Gateway opcodes (Discord `GatewayOpcodes`). */
const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, InvalidSession: 9, Hello: 10, HeartbeatAck: 11 } as const;

/** Privileged intent bit that a bot must switch on in the developer portal before it may ask for it. */
const MESSAGE_CONTENT_INTENT = 1 << 15;

/** Events kept per session for replay on RESUME; Discord keeps a bounded backlog too. */
const REPLAY_LIMIT = 1_000;

interface Dispatch {
  op: 0;
  t: string;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  seq: number;
  backlog: Dispatch[];
  socket: WebSocket | null;
  /** False once the client closed with 1000/1001, which ends a session on the real gateway. */
  resumable: boolean;
}

/** What the gateway half needs from the fake. */
export interface FakeGatewayOptions {
  token: string;
  world: WorldIds;
  /** Whether the app may use the Message Content intent; false answers IDENTIFY with close code 4014. */
  messageContentAllowed: boolean;
  heartbeatIntervalMs: number;
}

/**
 * The WebSocket half of the fake: HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeat ACKs, RESUME with
 * replay of the events missed while the socket was down, and dispatches to every live session.
 * JSON text frames only (discord.js uses zlib-stream only when `zlib-sync` is installed, which it is not).
 */
export class FakeGateway {
  readonly wss: WebSocketServer;
  url = '';
  connections = 0;
  identifies = 0;
  resumes = 0;
  heartbeats = 0;
  /** Close code of every socket that ended, in order (1000/1001: the client closed cleanly; 1006: dropped). */
  readonly closeCodes: number[] = [];
  readonly #sockets = new Set<WebSocket>();
  readonly #sessions = new Map<string, Session>();
  #sessionCounter = 0;

  constructor(
    server: Server,
    private readonly options: FakeGatewayOptions,
  ) {
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (socket) => this.#onConnection(socket));
  }

  get openConnections(): number {
    return this.#sockets.size;
  }

  /** Sends one dispatch to every session; sessions whose socket is down keep it for RESUME. */
  dispatch(t: string, d: unknown): void {
    for (const session of this.#sessions.values()) {
      if (!session.resumable) continue;
      this.#sendDispatch(session, t, d);
    }
  }

  /** Kills every socket without a close frame (code 1006 on the client), like a network drop. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.terminate();
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }

  #onConnection(socket: WebSocket): void {
    this.connections++;
    this.#sockets.add(socket);
    let session: Session | null = null;
    socket.on('close', (code) => {
      this.closeCodes.push(code);
      this.#sockets.delete(socket);
      if (session && session.socket === socket) {
        session.socket = null;
        if (code === 1000 || code === 1001) session.resumable = false;
      }
    });
    socket.on('error', () => socket.terminate());
    socket.on('message', (raw) => {
      let payload: { op?: number; d?: unknown };
      try {
        payload = JSON.parse(String(raw)) as { op?: number; d?: unknown };
      } catch {
        socket.close(4002, 'Error while decoding payload.');
        return;
      }
      switch (payload.op) {
        case Op.Heartbeat:
          this.heartbeats++;
          socket.send(JSON.stringify({ op: Op.HeartbeatAck }));
          break;
        case Op.Identify:
          session = this.#identify(socket, payload.d as { token?: string; intents?: number });
          break;
        case Op.Resume:
          session = this.#resume(socket, payload.d as { token?: string; session_id?: string; seq?: number });
          break;
        default:
          break;
      }
    });
    socket.send(JSON.stringify({ op: Op.Hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs } }));
  }

  #identify(socket: WebSocket, d: { token?: string; intents?: number }): Session | null {
    this.identifies++;
    if (d.token !== this.options.token) {
      socket.close(4004, 'Authentication failed.');
      return null;
    }
    if (((d.intents ?? 0) & MESSAGE_CONTENT_INTENT) !== 0 && !this.options.messageContentAllowed) {
      socket.close(4014, 'Disallowed intent(s).');
      return null;
    }
    const session: Session = { id: `fake-session-${++this.#sessionCounter}`, seq: 0, backlog: [], socket, resumable: true };
    this.#sessions.set(session.id, session);
    this.#sendDispatch(session, 'READY', readyPayload(this.options.world, session.id, this.url));
    this.#sendDispatch(session, 'GUILD_CREATE', guildCreatePayload(this.options.world));
    return session;
  }

  #resume(socket: WebSocket, d: { token?: string; session_id?: string; seq?: number }): Session | null {
    this.resumes++;
    const session = d.session_id ? this.#sessions.get(d.session_id) : undefined;
    if (!session || !session.resumable || d.token !== this.options.token) {
      socket.send(JSON.stringify({ op: Op.InvalidSession, d: false }));
      return null;
    }
    session.socket = socket;
    const after = d.seq ?? 0;
    for (const missed of session.backlog) if (missed.s > after) socket.send(JSON.stringify(missed));
    this.#sendDispatch(session, 'RESUMED', null);
    return session;
  }

  #sendDispatch(session: Session, t: string, d: unknown): void {
    const payload: Dispatch = { op: Op.Dispatch, t, s: ++session.seq, d };
    session.backlog.push(payload);
    if (session.backlog.length > REPLAY_LIMIT) session.backlog.shift();
    if (session.socket && session.socket.readyState === session.socket.OPEN) session.socket.send(JSON.stringify(payload));
  }
}

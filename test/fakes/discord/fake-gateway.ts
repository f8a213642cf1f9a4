import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { guildCreatePayload, readyPayload, type WorldIds } from './payloads.js';

/** Gateway opcodes (Discord `GatewayOpcodes`). */
const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, InvalidSession: 9, Hello: 10, HeartbeatAck: 11 } as const;

/** Gateway intent bits (Discord `GatewayIntentBits`), written out so the fake does not share the client's constants. */
export const Intent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

/** The application's Privileged Gateway Intents toggles in the Developer Portal (Bot tab). */
export interface PrivilegedIntentSettings {
  messageContent: boolean;
  guildMembers: boolean;
  presence: boolean;
}

/** A privileged intent bit and the toggle that allows it. */
const PRIVILEGED: Array<[number, keyof PrivilegedIntentSettings]> = [
  [Intent.MessageContent, 'messageContent'],
  [Intent.GuildMembers, 'guildMembers'],
  [Intent.GuildPresences, 'presence'],
];

/**
 * Which intent a dispatch needs, as Discord's gateway documents it ("Gateway Intents" list): message
 * events need GuildMessages in a guild and DirectMessages elsewhere, typing and reactions likewise,
 * guild structure needs Guilds. `null`: sent whatever the intents (READY, RESUMED, …).
 */
function intentFor(t: string, d: unknown): number | null {
  const inGuild = typeof (d as { guild_id?: unknown } | null)?.guild_id === 'string';
  if (t.startsWith('MESSAGE_REACTION_')) return inGuild ? Intent.GuildMessageReactions : Intent.DirectMessageReactions;
  if (t.startsWith('MESSAGE_')) return inGuild ? Intent.GuildMessages : Intent.DirectMessages;
  if (t === 'TYPING_START') return inGuild ? Intent.GuildMessageTyping : Intent.DirectMessageTyping;
  if (t === 'CHANNEL_PINS_UPDATE') return inGuild ? Intent.Guilds : Intent.DirectMessages;
  if (t.startsWith('GUILD_MEMBER') || t === 'THREAD_MEMBERS_UPDATE') return Intent.GuildMembers;
  if (t === 'PRESENCE_UPDATE') return Intent.GuildPresences;
  if (t.startsWith('GUILD_') || t.startsWith('CHANNEL_') || t.startsWith('THREAD_')) return Intent.Guilds;
  return null;
}

/**
 * Without Message Content, Discord empties `content`, `embeds`, `attachments`, `components` and `poll` of
 * every message except DMs, the app's own messages and messages that mention it.
 */
function withoutContent(d: unknown, botUserId: string): unknown {
  const m = d as { guild_id?: string; author?: { id?: string }; mentions?: Array<{ id?: string }>; content?: unknown } | null;
  if (!m || typeof m !== 'object' || m.content === undefined || !m.guild_id) return d;
  if (m.author?.id === botUserId || m.mentions?.some((u) => u.id === botUserId)) return d;
  const { poll: _poll, ...rest } = m as Record<string, unknown>;
  return { ...rest, content: '', embeds: [], attachments: [], components: [] };
}

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
  /** The intents IDENTIFY asked for (all allowed, or the socket was closed with 4014). */
  intents: number;
  /** False once the client closed with 1000/1001, which ends a session on the real gateway. */
  resumable: boolean;
}

/** What the gateway half needs from the fake. */
export interface FakeGatewayOptions {
  token: string;
  world: WorldIds;
  /** The app's privileged-intent toggles; asking for one that is off closes the socket with 4014. */
  privileged: PrivilegedIntentSettings;
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
  /** The `intents` of every IDENTIFY, in order. */
  readonly identifyIntents: number[] = [];
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

  /**
   * Sends one dispatch to every session whose intents ask for it (message content emptied for sessions
   * without Message Content, as Discord does); sessions whose socket is down keep it for RESUME.
   */
  dispatch(t: string, d: unknown): void {
    const needs = intentFor(t, d);
    for (const session of this.#sessions.values()) {
      if (!session.resumable) continue;
      if (needs !== null && (session.intents & needs) === 0) continue;
      const payload = t.startsWith('MESSAGE_') && (session.intents & Intent.MessageContent) === 0 ? withoutContent(d, this.options.world.bot.id) : d;
      this.#sendDispatch(session, t, payload);
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
    const intents = d.intents ?? 0;
    this.identifyIntents.push(intents);
    if (d.token !== this.options.token) {
      socket.close(4004, 'Authentication failed.');
      return null;
    }
    if (PRIVILEGED.some(([bit, toggle]) => (intents & bit) !== 0 && !this.options.privileged[toggle])) {
      socket.close(4014, 'Disallowed intent(s).');
      return null;
    }
    const session: Session = { id: `fake-session-${++this.#sessionCounter}`, seq: 0, backlog: [], socket, intents, resumable: true };
    this.#sessions.set(session.id, session);
    this.#sendDispatch(session, 'READY', readyPayload(this.options.world, session.id, this.url));
    if ((intents & Intent.Guilds) !== 0) this.#sendDispatch(session, 'GUILD_CREATE', guildCreatePayload(this.options.world));
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

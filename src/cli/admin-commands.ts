import { Command, InvalidArgumentError, Option } from 'commander';
import { AdminCallError, callAdmin, channelPath, type AdminConnection } from './admin-client.js';
import { formatTable } from './table.js';
import { timelineTable } from './timeline-table.js';

/** The local gateway: loopback on `PORT` (the variable that moves the gateway's own port), else 8787. */
const DEFAULT_URL = `http://127.0.0.1:${process.env['PORT'] || 8787}`;

interface CommonOptions {
  url: string;
  token?: string;
  json?: boolean;
}

interface ChannelStatsView {
  key: string;
  pending: number;
  queuedBatches: number;
  queuedMessages: number;
  processing: boolean;
  paused: boolean;
  active?: boolean;
  inFlight?: { batchId: string; size: number; startedAt: number } | null;
  settings: Record<string, unknown>;
  counters: Record<string, number>;
}

/** The per-channel settings the `settings` command can set, with their flags. */
const SETTING_FLAGS = [
  { flag: '--window-ms <ms>', field: 'windowMs', parse: integer, help: 'quiet period before a batch flushes' },
  { flag: '--max-batch-size <n>', field: 'maxBatchSize', parse: integer, help: 'flush at once at this many messages' },
  { flag: '--max-wait-ms <ms>', field: 'maxWaitMs', parse: integer, help: 'flush when the first message is this old' },
  { flag: '--mode <mode>', field: 'mode', parse: oneOf('queue', 'interrupt', 'steer'), help: 'queue | interrupt | steer' },
  { flag: '--disabled <bool>', field: 'disabled', parse: boolean, help: 'true: every message is its own batch' },
  { flag: '--max-queued-batches <n>', field: 'maxQueuedBatches', parse: integer, help: 'bound on batches waiting' },
  { flag: '--overflow <policy>', field: 'overflow', parse: oneOf('merge', 'drop-oldest', 'reject'), help: 'merge | drop-oldest | reject' },
  { flag: '--processing-timeout-ms <ms>', field: 'processingTimeoutMs', parse: integer, help: 'abort the processor after this long' },
  { flag: '--typing <bool>', field: 'typing', parse: boolean, help: 'show typing indicators' },
] as const;

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

function boolean(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('expected true or false');
}

function oneOf(...values: string[]) {
  return (value: string): string => {
    if (!values.includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return value;
  };
}

/** Adds --url, --token and --json to an admin command. */
function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'gateway base URL (else BATCHGATE_URL, else 127.0.0.1 on PORT or 8787)').env('BATCHGATE_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'admin.token of the gateway').env('BATCHGATE_ADMIN_TOKEN'))
    .option('--json', 'print the server JSON (for scripts)');
}

function connection(opts: CommonOptions): AdminConnection {
  return { url: opts.url, token: opts.token ?? '' };
}

/** Runs one command body; prints the server's reason and sets a non-zero exit code on failure. */
async function run(opts: CommonOptions, body: (conn: AdminConnection) => Promise<unknown>, human: (result: any) => string): Promise<void> {
  try {
    const result = await body(connection(opts));
    process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : human(result));
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    let text = `batchgate: ${err.message}\n`;
    for (const issue of err.issues) text += `  ${issue.path || '(body)'}: ${issue.message}\n`;
    process.stderr.write(text);
    process.exitCode = err.status === null ? 2 : 1;
  }
}

function elapsed(startedAt: number | undefined): string {
  if (startedAt === undefined) return '';
  const s = Math.max(0, (Date.now() - startedAt) / 1_000);
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

function channelsTable(channels: ChannelStatsView[]): string {
  if (channels.length === 0) return 'no channels yet\n';
  return formatTable(
    ['KEY', 'PENDING', 'QUEUED', 'MSGS', 'IN FLIGHT', 'PAUSED', 'RECEIVED', 'BATCHES', 'DONE', 'CANCELLED', 'FAILED', 'DROPPED'],
    channels.map((c) => [
      c.key,
      c.pending,
      c.queuedBatches,
      c.queuedMessages,
      c.processing ? `yes ${c.inFlight ? `(${c.inFlight.size} msgs, ${elapsed(c.inFlight.startedAt)})` : ''}`.trim() : 'no',
      c.paused ? 'yes' : 'no',
      c.counters['received'],
      c.counters['batches'],
      c.counters['processed'],
      c.counters['cancelled'],
      c.counters['failed'],
      c.counters['dropped'],
    ]),
  );
}

function channelDetail(c: ChannelStatsView): string {
  const rows: Array<[string, unknown]> = [
    ['key', c.key],
    ['pending', c.pending],
    ['queued batches', c.queuedBatches],
    ['queued messages', c.queuedMessages],
    ['in flight', c.processing ? `${c.inFlight?.size ?? '?'} messages for ${elapsed(c.inFlight?.startedAt)}` : 'no'],
    ['paused', c.paused ? 'yes' : 'no'],
    ...Object.entries(c.counters).map(([k, v]): [string, unknown] => [k, v]),
    ...Object.entries(c.settings).map(([k, v]): [string, unknown] => [`settings.${k}`, v]),
  ];
  return formatTable(['FIELD', 'VALUE'], rows.map(([k, v]) => [k, String(v)]));
}

function settingsTable(result: { effective: Record<string, unknown>; override: Record<string, unknown> | null }): string {
  return formatTable(
    ['SETTING', 'EFFECTIVE', 'OVERRIDE'],
    Object.entries(result.effective).map(([k, v]) => [k, String(v), result.override && k in result.override ? String(result.override[k]) : '-']),
  );
}

/** Admin commands (stats, cancel, stop, resume, clear, tail, settings) talk to a running gateway's API. */
export function registerAdminCommands(program: Command): void {
  withConnection(program.command('stats').argument('[key]', 'channel key (platform:channelId)').description('show every channel, or one channel, with its queue and counters')).action(
    (key: string | undefined, opts: CommonOptions) =>
      run(
        opts,
        (conn) => callAdmin(conn, 'GET', key === undefined ? '/api/v1/channels?sort=busy' : channelPath(key)),
        (result) => (key === undefined ? channelsTable((result as { channels: ChannelStatsView[] }).channels) : channelDetail(result)),
      ),
  );

  withConnection(program.command('cancel').argument('<key>', 'channel key').description('abort the batch in flight (its messages are not replied to)')).action(
    (key: string, opts: CommonOptions) =>
      run(opts, (conn) => callAdmin(conn, 'POST', channelPath(key, '/cancel')), (r: { cancelled: boolean }) =>
        r.cancelled ? `cancelled the batch in flight in ${key}\n` : `nothing was in flight in ${key}\n`,
      ),
  );

  withConnection(program.command('stop').argument('<key>', 'channel key').description('cancel the batch in flight and pause the channel (messages keep collecting)')).action(
    (key: string, opts: CommonOptions) =>
      run(opts, (conn) => callAdmin(conn, 'POST', channelPath(key, '/stop')), (r: { cancelled?: boolean }) =>
        `paused ${key}${r.cancelled ? ' (cancelled the batch in flight)' : ''}; resume with: batchgate resume ${key}\n`,
      ),
  );

  withConnection(program.command('resume').argument('<key>', 'channel key').description('resume a stopped channel')).action((key: string, opts: CommonOptions) =>
    run(opts, (conn) => callAdmin(conn, 'POST', channelPath(key, '/resume')), () => `resumed ${key}\n`),
  );

  withConnection(program.command('clear').argument('<key>', 'channel key').description('discard the open and queued batches (not the one in flight)')).action(
    (key: string, opts: CommonOptions) =>
      run(opts, (conn) => callAdmin(conn, 'DELETE', channelPath(key, '/queue')), (r: { removed: number }) => `removed ${r.removed} message(s) from ${key}\n`),
  );

  withConnection(
    program
      .command('tail')
      .argument('[key]', 'only this channel (platform:channelId)')
      .description('follow the live event stream (flushes and their reasons, runs, replies, drops) until Ctrl+C; exits 2 when the gateway goes away'),
  ).action(async (key: string | undefined, opts: CommonOptions) => {
    const { runTail } = await import('./tail.js');
    const stopped = new AbortController();
    const stop = () => stopped.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // `batchgate tail | head`: the reader closing the pipe ends the tail quietly.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      stop();
    });
    const code = await runTail(connection(opts), {
      key,
      json: opts.json === true,
      signal: stopped.signal,
      write: (line) => !stopped.signal.aborted && (process.stdout.write(line), true),
      warn: (line) => void process.stderr.write(`${line}\n`),
    });
    // Exit now: the aborted stream's socket must not keep a stopped tail alive.
    process.exit(code);
  });

  withConnection(
    program
      .command('timeline')
      .argument('<key>', 'channel key (platform:channelId)')
      .description('show why the channel\'s batches sealed and ran when they did: its last decisions with their reasons, oldest first')
      .addOption(new Option('--limit <n>', 'at most this many entries (the newest)').argParser(integer)),
  ).action((key: string, opts: CommonOptions & { limit?: number }) =>
    run(opts, (conn) => callAdmin(conn, 'GET', channelPath(key, `/timeline${opts.limit === undefined ? '' : `?limit=${opts.limit}`}`)), timelineTable),
  );

  const settings = withConnection(
    program
      .command('settings')
      .argument('<key>', 'channel key')
      .description('show or change a channel\'s batching settings (changes apply at once; --reset removes the override)')
      .option('--reset', 'remove the channel\'s override'),
  );
  for (const s of SETTING_FLAGS) settings.addOption(new Option(s.flag, s.help).argParser(s.parse as (v: string) => unknown));
  settings.action((key: string, opts: CommonOptions & Record<string, unknown>) => {
    const changes: Record<string, unknown> = {};
    for (const s of SETTING_FLAGS) if (opts[s.field] !== undefined) changes[s.field] = opts[s.field];
    return run(
      opts,
      (conn) => {
        if (opts['reset']) return callAdmin(conn, 'DELETE', channelPath(key, '/settings'));
        if (Object.keys(changes).length > 0) return callAdmin(conn, 'PUT', channelPath(key, '/settings'), changes);
        return callAdmin(conn, 'GET', channelPath(key, '/settings'));
      },
      settingsTable,
    );
  });
}

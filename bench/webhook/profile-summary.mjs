// Where the servers' thread spends its time, from a V8 .cpuprofile (BENCH_WEBHOOK_PROFILE): every sample goes
// to the first category that matches a frame from the leaf up, printed in µs per message, then the top
// functions by self time. Usage: node bench/webhook/profile-summary.mjs FILE.cpuprofile MESSAGES
import { readFileSync } from 'node:fs';

const [file, messagesArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/webhook/profile-summary.mjs FILE.cpuprofile MESSAGES');
  process.exit(2);
}
const messages = Number(messagesArg || 1);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);

/** First match wins, so the more specific categories come first. */
const CATEGORIES = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['V8/native (program)', (f) => f.functionName === '(program)'],
  ['socket writes (writev)', (f) => f.functionName === 'writev'],
  ['reply sender', (f) => f.url.includes('adapters/webhook/reply-sender')],
  ['webhook handler', (f) => f.url.includes('adapters/webhook/')],
  ['undici', (f) => f.url.includes('undici')],
  ['prom-client', (f) => f.url.includes('prom-client')],
  ['admin', (f) => f.url.includes('src/admin/')],
  ['gateway, bus, reply router', (f) => /src\/(gateway|bus\/|reply-router)/.test(f.url)],
  ['engine (src/core)', (f) => f.url.includes('src/core/')],
  ['processor', (f) => /wait-then-reply|src\/processors/.test(f.url)],
  ['pino', (f) => f.url.includes('pino')],
  ['fastify', (f) => /fastify|find-my-way|secure-json-parse/.test(f.url)],
  ['node http', (f) => /^node:_?http/.test(f.url)],
  ['node streams, net', (f) => /^node:(net|stream|internal\/stream)/.test(f.url)],
  ['node timers', (f) => /^node:.*timers/.test(f.url)],
  ['other node internals', (f) => f.url.startsWith('node:')],
];

const byCategory = new Map();
const bySelf = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  const leaf = nodes.get(profile.samples[i]);
  let category = 'unattributed';
  for (let id = leaf.id; id !== undefined; id = parentOf.get(id)) {
    const hit = CATEGORIES.find(([, test]) => test(nodes.get(id).callFrame));
    if (hit) {
      category = hit[0];
      break;
    }
  }
  byCategory.set(category, (byCategory.get(category) ?? 0) + dt);
  const f = leaf.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|adapters|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  bySelf.set(name, (bySelf.get(name) ?? 0) + dt);
}

const perMessage = (us) => (us / messages).toFixed(1).padStart(7);
const busy = [...byCategory].filter(([k]) => k !== 'idle').reduce((sum, [, us]) => sum + us, 0);
console.log(`busy ${perMessage(busy)} µs per message (${messages} messages)`);
for (const [k, us] of [...byCategory].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${perMessage(us)}`);
console.log('top functions by self time, µs per message:');
for (const [k, us] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${perMessage(us)}  ${k}`);

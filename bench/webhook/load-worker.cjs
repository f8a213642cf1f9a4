// The load generator of S5, in a worker thread of its own so the servers under test keep a whole event loop.
// `cannon`: autocannon, closed loop or with its `overallRate`. `paced`: a true open-loop sender: every
// millisecond it sends what the schedule says is due, never waiting for answers, and stamps each message
// with its *intended* send time, so a stalled server shows up as latency instead of slowing the sender down
// (no coordinated omission).
//
// Webhook messages: id `prefix:seq:intendedTime` (the reply receiver reads the time back from `inReplyTo`),
// a 200-byte text, and a channel that is either drawn from the Zipf sequence in workerData (`zipf: true`)
// or unique per message (the worst case: no window ever coalesces).
const { parentPort, workerData } = require('node:worker_threads');
const autocannon = require(workerData.autocannonPath);
const { Pool } = require(workerData.undiciPath);

const clock = () => performance.timeOrigin + performance.now();
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : NaN);
const TEXT = 'x'.repeat(200);
/** Channel index of the nth message (Zipf-distributed over workerData.channels), computed in the main thread. */
const zipf = workerData.zipf;

function messageBody(o, seq, at) {
  const channelId = o.zipf ? `room-${zipf[seq % zipf.length]}` : `${o.prefix}-${seq}`;
  return JSON.stringify({ id: `${o.prefix}:${seq}:${at.toFixed(3)}`, channelId, userId: 'u1', text: TEXT });
}

async function cannon(o) {
  let seq = 0;
  const requests = o.webhook
    ? [{ method: 'POST', path: '/v1/messages', headers: { 'content-type': 'application/json' }, setupRequest: (req) => { req.body = messageBody(o, ++seq, clock()); return req; } }]
    : undefined;
  const opts = { url: o.url, connections: o.connections, duration: o.duration, overallRate: o.overallRate, requests, timeout: 10 };
  const startedAt = clock();
  // Off the main thread autocannon hands back raw histograms (its own workers mode aggregates them later).
  const r = autocannon.aggregateResult([await autocannon(opts)], opts);
  return { ok: r['2xx'], non2xx: r.non2xx, errors: r.errors + r.timeouts, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, startedAt };
}

function paced(o) {
  const u = new URL(o.url);
  // undici's dispatch costs this thread about a third of node:http's per request, so the sender keeps its
  // schedule at hello-world's rates too (with node:http it fell behind past ~13k req/s and measured itself).
  const pool = new Pool(u.origin, { connections: o.connections, pipelining: 1 });
  const latencies = [];
  let ok = 0, non2xx = 0, errors = 0, sent = 0, inflight = 0, stopped = false;
  const start = clock();
  const end = start + o.duration * 1000;
  return new Promise((resolve) => {
    const finish = () => {
      if (!stopped || inflight > 0) return;
      latencies.sort((a, b) => a - b);
      pool.close().then(() => resolve({ ok, non2xx, errors, seconds: (end - start) / 1000, p50: pct(latencies, 50), p99: pct(latencies, 99), startedAt: start }));
    };
    const fire = (seq, intended) => {
      inflight++;
      let status = 0;
      pool.dispatch(
        o.webhook
          ? { method: 'POST', path: '/v1/messages', headers: { 'content-type': 'application/json' }, body: messageBody(o, seq, intended) }
          : { method: 'GET', path: '/' },
        {
          onConnect() {},
          onHeaders(statusCode) { status = statusCode; return true; },
          onData() { return true; },
          onComplete() {
            if (status >= 200 && status < 300) ok++; else non2xx++;
            latencies.push(clock() - intended);
            inflight--;
            finish();
          },
          onError() { errors++; inflight--; finish(); },
        },
      );
    };
    const timer = setInterval(() => {
      const now = clock();
      const due = Math.floor(((Math.min(now, end) - start) / 1000) * o.rate);
      while (sent < due) { sent++; fire(sent, start + (sent / o.rate) * 1000); }
      if (now >= end) { stopped = true; clearInterval(timer); finish(); }
    }, 1);
  });
}

parentPort.postMessage({ ready: true });
parentPort.on('message', async (m) => {
  try {
    parentPort.postMessage({ id: m.id, result: await (m.opts.rate ? paced(m.opts) : cannon(m.opts)) });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.stack) || err) });
  }
});

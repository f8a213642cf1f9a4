// The `replyUrl` receiver of S5, in a worker thread of its own. For every reply it records when it arrived and
// the earliest and latest *intended* send time of the messages it answers (each message id carries its
// sender's schedule time as `prefix:seq:time`), plus how many it answers; the main thread turns that into
// added latency. It also checks exactly-once: every id it sees must be new since the last `take`.
const { parentPort } = require('node:worker_threads');
const http = require('node:http');

const clock = () => performance.timeOrigin + performance.now();
/** Per reply: arrival, earliest intended send, latest intended send, messages answered. */
const FIELDS = 4;
let records = [];
let answered = new Set();
let replies = 0;
let duplicates = 0;
let unreadable = 0;
let lastAt = 0;

function record(at, body) {
  const ids = JSON.parse(body).inReplyTo;
  let first = Infinity;
  let last = -Infinity;
  for (const id of ids) {
    if (answered.has(id)) duplicates++;
    else answered.add(id);
    const sent = Number(id.slice(id.lastIndexOf(':') + 1));
    if (sent < first) first = sent;
    if (sent > last) last = sent;
  }
  records.push(at, first, last, ids.length);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = clock();
    try {
      record(at, Buffer.concat(chunks).toString('utf8'));
    } catch {
      unreadable++;
    }
    replies++;
    lastAt = at;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));

parentPort.on('message', (m) => {
  if (m.cmd === 'count') parentPort.postMessage({ id: m.id, replies, messages: answered.size });
  if (m.cmd === 'take') {
    const flat = Float64Array.from(records);
    parentPort.postMessage({ id: m.id, replies, messages: answered.size, duplicates, unreadable, lastAt, fields: FIELDS, records: flat }, [flat.buffer]);
    records = [];
    answered = new Set();
    replies = duplicates = unreadable = 0;
  }
  if (m.cmd === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort.postMessage({ id: m.id }));
  }
});

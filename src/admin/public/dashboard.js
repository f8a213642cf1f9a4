// batchgate dashboard: plain browser JS, no build step. Data comes from the admin API with the bearer
// token (when the gateway has one); live events come from /api/v1/events read with fetch streaming,
// because EventSource cannot send an Authorization header.
'use strict';
(() => {
  const PAGE_SIZE = 50;
  const WINDOW_S = 300; // charts show the last 5 minutes
  const RATE_WINDOW_S = 10; // the messages/s card's average
  const TOKEN_KEY = 'batchgate.adminToken';
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    q: '',
    sort: 'busy',
    offset: 0,
    total: 0,
    channels: [],
    openSettings: new Set(),
    openTimelines: new Set(),
    clockSkew: 0, // server epoch ms minus browser epoch ms
    lastTotals: null,
    rate: { t: [], msgs: [], batches: [] },
    late: { t: [], ms: [] },
    proc: { t: [], ms: [] },
    // Cumulative received counts of the last RATE_WINDOW_S, for the messages/s card.
    received: [],
    started: false,
  };

  // ── API ────────────────────────────────────────────────────────────────
  class AuthError extends Error {}
  async function api(method, path, body) {
    const headers = {};
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) throw new AuthError('token required');
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
      err.issues = json.error && json.error.issues;
      throw err;
    }
    return json;
  }
  const channelPath = (key, suffix = '') => `/api/v1/channels/${encodeURIComponent(key)}${suffix}`;

  // ── auth ───────────────────────────────────────────────────────────────
  function showAuth(message) {
    $('app').hidden = true;
    $('auth').hidden = false;
    $('auth-error').textContent = message || '';
    $('token').focus();
  }
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    start();
  });

  // ── charts (uPlot) ─────────────────────────────────────────────────────
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const axis = () => ({ stroke: color('--muted'), grid: { stroke: color('--grid'), width: 1 }, ticks: { stroke: color('--grid') } });
  // Decimals that tell ticks `incr` apart: uPlot's default number format keeps 3 at most, so ticks
  // 0.0012 s apart all read "0.001".
  const decimalsFor = (incr) => Math.min(6, Math.max(0, Math.ceil(-Math.log10(incr) - 1e-9)));
  const fixed = (v, incr) => v.toFixed(decimalsFor(incr));
  /**
   * A value axis whose labels carry their unit (`format(value, incr)` → "12/s", "3 ms"). The labels drawn
   * last are kept on the chart element (`data-y-ticks`), since uPlot draws them on a canvas.
   */
  const valueAxis = (format) => ({
    ...axis(),
    size: 64,
    values: (u, splits, _axisIdx, _space, incr) => {
      const labels = splits.map((v) => format(v, incr));
      u.root.parentElement.dataset.yTicks = labels.join('|');
      return labels;
    },
  });
  // Durations in ms below a second of tick spacing, else in s: "0.25 ms", "40 ms", "1.5 s".
  const durationAxis = () => valueAxis((v, incr) => (incr >= 1000 ? `${fixed(v / 1000, incr / 1000)} s` : `${fixed(v, incr)} ms`));
  // Time axes show clock time only, with room between labels, so they never overlap on a narrow chart.
  const timeAxis = () => ({
    ...axis(),
    space: 70,
    values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })),
  });
  const charts = {};
  function chartWidth(el) {
    return Math.max(240, el.clientWidth);
  }
  function makeCharts() {
    const size = (el) => ({ width: chartWidth(el), height: 180 });
    charts.rate = new uPlot(
      {
        ...size($('c-rate')),
        // At least a minute of axis, so the first samples after page load do not fill the chart.
        scales: {
          x: { time: true, range: (_u, min, max) => [Math.min(min ?? max, max - 60), max] },
          // From zero, so a steady rate reads as a level, not as noise around an auto-fitted band.
          y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.1)] },
        },
        axes: [timeAxis(), valueAxis((v, incr) => `${fixed(v, incr)}/s`)],
        // batches/s first so messages/s is drawn over it: with one message per batch the two are equal,
        // and messages/s, drawn underneath, looked like a line stuck at zero. batches/s is dashed.
        series: [
          {},
          { label: 'batches/s', stroke: color('--accent2'), width: 2, dash: [6, 4] },
          { label: 'messages/s', stroke: color('--accent'), width: 2, fill: color('--accent-fill') },
        ],
      },
      [[], [], []],
      $('c-rate'),
    );
    // Upper bounds of batchgate_batch_size buckets (the server's BATCH_SIZE_BUCKETS).
    const buckets = ['1', '2', '3', '5', '10', '20', '50', '100', '200', '500', '1k', '>1k'];
    charts.size = new uPlot(
      {
        ...size($('c-size')),
        scales: { x: { time: false, range: [-0.5, buckets.length - 0.5] } },
        axes: [
          { ...axis(), values: (_u, ticks) => ticks.map((t) => buckets[t] ?? ''), splits: () => buckets.map((_b, i) => i) },
          // Batch counts are whole numbers: no fractional ticks.
          { ...valueAxis((v) => `${v}`), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7] },
        ],
        series: [{}, { label: 'batches', stroke: color('--accent'), fill: color('--accent-fill'), width: 1, paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
        legend: { show: false },
      },
      [buckets.map((_b, i) => i), buckets.map(() => 0)],
      $('c-size'),
    );
    const scatter = (label, stroke) => ({ label, stroke, width: 0, points: { show: true, size: 5, fill: stroke } });
    // Event charts keep a fixed 5-minute x range so a handful of points does not stretch across the axis.
    const recent = { time: true, range: () => [Date.now() / 1000 - WINDOW_S, Date.now() / 1000] };
    charts.late = new uPlot(
      { ...size($('c-late')), scales: { x: recent }, axes: [timeAxis(), durationAxis()], series: [{}, scatter('lateness ms', color('--accent2'))] },
      [[], []],
      $('c-late'),
    );
    charts.proc = new uPlot(
      { ...size($('c-proc')), scales: { x: recent }, axes: [timeAxis(), durationAxis()], series: [{}, scatter('processing ms', color('--accent'))] },
      [[], []],
      $('c-proc'),
    );
    let resizeTimer;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const [id, chart] of [['c-rate', charts.rate], ['c-size', charts.size], ['c-late', charts.late], ['c-proc', charts.proc]]) chart.setSize({ width: chartWidth($(id)), height: 180 });
      }, 150);
    });
  }
  function trim(series, keys) {
    const cutoff = Date.now() / 1000 - WINDOW_S;
    let n = 0;
    while (n < series.t.length && series.t[n] < cutoff) n++;
    if (n > 0) for (const k of keys) series[k].splice(0, n);
    // Bound memory on a very busy gateway: keep at most 5,000 points per chart.
    const extra = series.t.length - 5000;
    if (extra > 0) for (const k of keys) series[k].splice(0, extra);
  }
  function drawEventCharts() {
    trim(state.late, ['t', 'ms']);
    trim(state.proc, ['t', 'ms']);
    charts.late.setData([state.late.t, state.late.ms]);
    charts.proc.setData([state.proc.t, state.proc.ms]);
  }

  // ── totals (polled) ────────────────────────────────────────────────────
  async function refreshStats() {
    const s = await api('GET', '/api/v1/stats');
    state.clockSkew = s.at - Date.now();
    // Every channel the table lists (known), not only those with messages waiting or in flight (active).
    $('t-channels').textContent = s.channels.known;
    $('t-active').textContent = `${s.channels.active} active`;
    $('t-inflight').textContent = s.channels.processing;
    $('t-slots').textContent = `${s.running}/${s.maxConcurrentBatches} slots`;
    $('t-pending').textContent = s.channels.pending;
    $('t-queued').textContent = s.channels.queuedMessages;
    $('t-bad').textContent = `${s.sinceStart.cancelled} · ${s.sinceStart.dropped} · ${s.sinceStart.processorErrors}`;
    const now = s.at / 1000;
    const last = state.lastTotals;
    if (last) {
      const dt = Math.max(0.001, now - last.t);
      const mps = Math.max(0, (s.sinceStart.messagesReceived - last.msgs) / dt);
      const bps = Math.max(0, (s.sinceStart.batchesFlushed - last.batches) / dt);
      state.rate.t.push(now);
      state.rate.msgs.push(round(mps));
      state.rate.batches.push(round(bps));
      trim(state.rate, ['t', 'msgs', 'batches']);
      charts.rate.setData([state.rate.t, state.rate.batches, state.rate.msgs]);
    }
    // The card averages the last RATE_WINDOW_S: a one-second sample reads 0 between a slow conversation's
    // messages, while messages keep arriving.
    state.received.push({ t: now, n: s.sinceStart.messagesReceived });
    while (state.received.length > 2 && state.received[1].t <= now - RATE_WINDOW_S) state.received.shift();
    const oldest = state.received[0];
    if (now > oldest.t) $('t-mps').textContent = round(Math.max(0, (s.sinceStart.messagesReceived - oldest.n) / (now - oldest.t)));
    state.lastTotals = { t: now, msgs: s.sinceStart.messagesReceived, batches: s.sinceStart.batchesFlushed };
    charts.size.setData([s.batchSizes.counts.map((_c, i) => i), s.batchSizes.counts]);
  }
  const round = (x) => Math.round(x * 10) / 10;

  // ── channel table (paged; only the visible page is fetched) ────────────
  let refreshQueued = false;
  function scheduleTableRefresh() {
    if (refreshQueued) return;
    refreshQueued = true;
    setTimeout(() => {
      refreshQueued = false;
      refreshTable().catch(onError);
    }, 150);
  }
  async function refreshTable() {
    const params = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE_SIZE), sort: state.sort });
    if (state.q) params.set('q', state.q);
    const res = await api('GET', `/api/v1/channels?${params}`);
    state.total = res.total;
    if (state.offset > 0 && state.offset >= res.total) {
      state.offset = Math.max(0, Math.floor((res.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      return refreshTable();
    }
    state.channels = res.channels;
    renderTable();
  }
  function elapsed(startedAt) {
    const s = Math.max(0, (Date.now() + state.clockSkew - startedAt) / 1000);
    return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  }
  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function button(label, action, cls, disabled) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = action;
    if (cls) b.className = cls;
    b.disabled = Boolean(disabled);
    return b;
  }
  function renderTable() {
    const tbody = $('rows');
    const focusedForm = document.activeElement && document.activeElement.closest('.settings-row');
    // Keep an open settings editor (and what the operator is typing) across refreshes.
    const openForms = new Map();
    for (const row of tbody.querySelectorAll('.settings-row')) openForms.set(row.dataset.key, row);
    const frag = document.createDocumentFragment();
    for (const c of state.channels) {
      const tr = document.createElement('tr');
      tr.dataset.key = c.key;
      if (c.processing) tr.classList.add('busy');
      if (c.paused) tr.classList.add('paused');
      if (!c.active) tr.classList.add('idle');
      tr.append(
        cell(c.key, 'key'),
        cell(String(c.pending), 'num'),
        cell(c.queuedBatches ? `${c.queuedMessages} (${c.queuedBatches}b)` : '0', 'num'),
        cell(c.processing && c.inFlight ? `${c.inFlight.size} msg · ${elapsed(c.inFlight.startedAt)}` : '', 'inflight'),
        cell(c.paused ? 'paused' : c.processing ? 'running' : c.pending ? 'collecting' : c.active ? 'waiting' : 'idle', 'state'),
        cell(String(c.counters.received), 'num'),
        cell(String(c.counters.batches), 'num'),
        cell(String(c.counters.processed), 'num'),
        cell(String(c.counters.cancelled), 'num'),
        cell(String(c.counters.failed), 'num'),
        cell(String(c.counters.dropped), 'num'),
      );
      const actions = document.createElement('td');
      actions.className = 'actions';
      actions.append(
        button('Cancel', 'cancel', 'danger', !c.processing),
        c.paused ? button('Resume', 'resume', 'primary') : button('Stop', 'stop', 'danger'),
        button('Clear', 'clear', '', c.pending + c.queuedMessages === 0),
        button('Settings', 'settings', state.openSettings.has(c.key) ? 'on' : ''),
      );
      tr.append(actions);
      frag.append(tr);
      if (state.openSettings.has(c.key)) frag.append(openForms.get(c.key) || settingsRow(c));
      if (state.openTimelines.has(c.key)) {
        tr.classList.add('open');
        frag.append(timelineRow(c.key));
      }
    }
    tbody.replaceChildren(frag);
    if (focusedForm && document.contains(focusedForm)) focusedForm.querySelector('input,select')?.focus();
    $('empty').hidden = state.total > 0 || Boolean(state.q);
    const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
    $('page').textContent = `${Math.floor(state.offset / PAGE_SIZE) + 1} / ${pages}`;
    $('total').textContent = state.q ? `${state.total} matching` : `${state.total}`;
    $('prev').disabled = state.offset === 0;
    $('next').disabled = state.offset + PAGE_SIZE >= state.total;
  }

  // ── actions ────────────────────────────────────────────────────────────
  const ACTIONS = {
    cancel: { ask: (k) => `Cancel the batch in flight in ${k}? Its messages will not be answered.`, run: (k) => api('POST', channelPath(k, '/cancel')) },
    stop: { ask: (k) => `Stop ${k}? The batch in flight is cancelled and nothing runs until you resume; new messages keep collecting.`, run: (k) => api('POST', channelPath(k, '/stop')) },
    resume: { ask: null, run: (k) => api('POST', channelPath(k, '/resume')) },
    clear: { ask: (k) => `Clear ${k}? Every message waiting (not the one in flight) is discarded.`, run: (k) => api('DELETE', channelPath(k, '/queue')) },
  };
  function confirmDialog(text) {
    const dialog = $('confirm');
    $('confirm-text').textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.returnValue = '';
      dialog.showModal();
      $('confirm-ok').focus();
    });
  }
  $('rows').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b) {
      // A click on a channel's row (not its buttons, not an open editor or timeline) opens its timeline.
      const tr = e.target.closest('tr');
      if (!tr || !tr.dataset.key || tr.classList.contains('settings-row') || tr.classList.contains('timeline-row')) return;
      if (state.openTimelines.has(tr.dataset.key)) state.openTimelines.delete(tr.dataset.key);
      else state.openTimelines.add(tr.dataset.key);
      renderTable();
      return;
    }
    const key = b.closest('tr').dataset.key;
    const action = b.dataset.action;
    if (action === 'settings') {
      if (state.openSettings.has(key)) state.openSettings.delete(key);
      else state.openSettings.add(key);
      renderTable();
      return;
    }
    const spec = ACTIONS[action];
    if (spec.ask && !(await confirmDialog(spec.ask(key)))) return;
    try {
      const result = await spec.run(key);
      flash(`${action} ${key}: ${JSON.stringify(result)}`);
    } catch (err) {
      onError(err);
    }
    scheduleTableRefresh();
  });

  function settingsRow(c) {
    const row = $('settings-template').content.firstElementChild.cloneNode(true);
    row.dataset.key = c.key;
    const form = row.querySelector('form');
    const status = row.querySelector('.form-status');
    const fill = (effective) => {
      for (const [name, value] of Object.entries(effective)) {
        const input = form.elements.namedItem(name);
        if (!input) continue;
        if (input.type === 'checkbox') input.checked = Boolean(value);
        else input.value = String(value);
        input.dataset.initial = input.type === 'checkbox' ? String(input.checked) : input.value;
      }
    };
    api('GET', channelPath(c.key, '/settings')).then(
      (s) => {
        fill(s.effective);
        status.textContent = s.override ? `override: ${Object.keys(s.override).join(', ')}` : 'no override (config values)';
      },
      (err) => (status.textContent = err.message),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const changes = {};
      for (const input of form.querySelectorAll('input,select')) {
        const now = input.type === 'checkbox' ? String(input.checked) : input.value;
        if (now === input.dataset.initial) continue;
        changes[input.name] = input.type === 'checkbox' ? input.checked : input.type === 'number' ? Number(input.value) : input.value;
      }
      if (Object.keys(changes).length === 0) {
        status.textContent = 'nothing changed';
        return;
      }
      try {
        const s = await api('PUT', channelPath(c.key, '/settings'), changes);
        fill(s.effective);
        status.textContent = `saved: ${Object.keys(changes).join(', ')}`;
        status.className = 'form-status ok';
      } catch (err) {
        status.textContent = err.issues ? err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : err.message;
        status.className = 'form-status error';
      }
    });
    row.querySelector('.reset').addEventListener('click', async () => {
      try {
        const s = await api('DELETE', channelPath(c.key, '/settings'));
        fill(s.effective);
        status.textContent = 'override removed';
      } catch (err) {
        status.textContent = err.message;
      }
    });
    row.querySelector('.close').addEventListener('click', () => {
      state.openSettings.delete(c.key);
      renderTable();
    });
    return row;
  }

  // ── a channel's decision timeline (GET /api/v1/channels/:key/timeline) ──
  const TIMELINE_SHOWN = 50; // newest entries; the CLI and the API give all that is kept
  const timelineRows = new Map(); // key → its row, kept across refreshes so it never flickers
  const loadingTimelines = new Set();
  // A typing hold (the person is still typing) and a content hold (their last message looks unfinished) read differently.
  function holdText(reason) {
    if (reason === 'typing') return 'typing hold';
    if (reason === 'classifier') return 'classifier hold';
    if (reason === 'mediaGroup') return 'album hold';
    return `content hold: ${reason}`;
  }
  function timelineRow(key) {
    let row = timelineRows.get(key);
    if (!row) {
      row = document.createElement('tr');
      row.className = 'timeline-row';
      row.dataset.timeline = key;
      const td = document.createElement('td');
      td.colSpan = 12;
      td.textContent = 'loading timeline…';
      row.append(td);
      timelineRows.set(key, row);
    }
    loadTimeline(key, row);
    return row;
  }
  async function loadTimeline(key, row) {
    if (loadingTimelines.has(key)) return;
    loadingTimelines.add(key);
    try {
      const res = await api('GET', `${channelPath(key, '/timeline')}?limit=${TIMELINE_SHOWN}`);
      const table = document.createElement('table');
      table.className = 'timeline';
      const head = document.createElement('tr');
      for (const h of ['time', 'decision', 'reason', 'batch', 'detail']) {
        const th = document.createElement('th');
        th.textContent = h;
        head.append(th);
      }
      table.append(head);
      for (const entry of res.entries) {
        const tr = document.createElement('tr');
        tr.className = `tl-${entry.type}`;
        const reason = entry.type === 'held' ? holdText(entry.reason) : entry.reason || '';
        const detail = [entry.detail, entry.messageIds && entry.type !== 'started' ? entry.messageIds.join(', ') : ''].filter(Boolean).join(' · ');
        tr.append(cell(new Date(entry.at).toISOString().slice(11, 23)), cell(entry.type, 'type'), cell(reason, 'reason'), cell(entry.batchId || '', 'batch'), cell(detail));
        table.append(tr);
      }
      const td = row.firstElementChild;
      if (res.entries.length === 0) td.textContent = `no timeline entries for ${key} yet`;
      else td.replaceChildren(table);
    } catch (err) {
      row.firstElementChild.textContent = err.message;
    } finally {
      loadingTimelines.delete(key);
    }
  }

  // ── failed batches (GET /api/v1/dead-letters) ─────────────────────────
  const DEAD_LETTER_LIMIT = 20;
  const MESSAGES_SHOWN = 5; // per failed batch; the rest is counted
  const TEXT_SHOWN = 140; // characters of a message text; the full text is in the title
  let deadLettersTimer = null;
  let deadLettersFetchedAt = 0;
  // A failing bot can fail many batches a second: fetch at most once a second, and once more after the last.
  function scheduleDeadLetters() {
    if (deadLettersTimer !== null) return;
    deadLettersTimer = setTimeout(() => {
      deadLettersTimer = null;
      refreshDeadLetters().catch(onError);
    }, Math.max(0, deadLettersFetchedAt + 1000 - Date.now()));
  }
  async function refreshDeadLetters() {
    deadLettersFetchedAt = Date.now();
    const { deadLetters } = await api('GET', `/api/v1/dead-letters?limit=${DEAD_LETTER_LIMIT}`);
    renderDeadLetters(deadLetters);
  }
  function span(text, cls) {
    const el = document.createElement('span');
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }
  // By code point, so an emoji is never cut in half.
  function shorten(text, max) {
    const chars = Array.from(text);
    return chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
  }
  // Message texts come from chat users: everything here goes in as text, never as HTML.
  function renderDeadLetters(deadLetters) {
    const frag = document.createDocumentFragment();
    for (const d of deadLetters) {
      const li = document.createElement('li');
      li.dataset.batchId = d.batch.id;
      const head = document.createElement('div');
      head.className = 'dl-head';
      const time = document.createElement('time');
      time.dateTime = new Date(d.failedAt).toISOString();
      time.textContent = new Date(d.failedAt).toLocaleTimeString();
      const count = d.batch.messages.length;
      head.append(time, span(d.channelKey, 'dl-key'), span(`${count} msg`, 'small'));
      const error = span(d.error, 'dl-error');
      const texts = document.createElement('ul');
      texts.className = 'dl-texts';
      for (const m of d.batch.messages.slice(0, MESSAGES_SHOWN)) {
        const item = document.createElement('li');
        item.title = m.text;
        item.append(span(m.userName, 'dl-author'), span(shorten(m.text, TEXT_SHOWN), 'dl-text'));
        texts.append(item);
      }
      if (count > MESSAGES_SHOWN) {
        const more = document.createElement('li');
        more.className = 'small';
        more.textContent = `+${count - MESSAGES_SHOWN} more`;
        texts.append(more);
      }
      li.append(head, error, texts);
      frag.append(li);
    }
    $('dead-letters').replaceChildren(frag);
    $('dead-letters-empty').hidden = deadLetters.length > 0;
  }

  // ── toolbar ────────────────────────────────────────────────────────────
  let searchTimer;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.q = $('search').value.trim();
      state.offset = 0;
      refreshTable().catch(onError);
    }, 200);
  });
  $('sort').addEventListener('change', () => {
    state.sort = $('sort').value;
    refreshTable().catch(onError);
  });
  $('prev').addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    refreshTable().catch(onError);
  });
  $('next').addEventListener('click', () => {
    state.offset += PAGE_SIZE;
    refreshTable().catch(onError);
  });

  // ── live events (fetch streaming) ──────────────────────────────────────
  function setConn(s, text) {
    $('conn').dataset.state = s;
    $('conn').textContent = text;
  }
  function flash(text) {
    logLine('admin', text);
  }
  function logLine(type, text) {
    const li = document.createElement('li');
    const time = new Date().toLocaleTimeString();
    li.innerHTML = '';
    const t = document.createElement('time');
    t.textContent = time;
    const kind = document.createElement('span');
    kind.className = `kind ${type.replace(/\W/g, '-')}`;
    kind.textContent = type;
    const body = document.createElement('span');
    body.textContent = text;
    li.append(t, kind, body);
    const list = $('events');
    list.prepend(li);
    while (list.children.length > 60) list.lastElementChild.remove();
  }
  const ms = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
  function describe(e) {
    switch (e.type) {
      case 'batch.flushed': return `${e.channelKey} · ${e.size} msg · ${e.reason}${e.reason === 'window' || e.reason === 'maxWait' ? ` · +${ms(e.latenessMs)}` : ''}`;
      case 'batch.started': return `${e.channelKey} · ${e.size} msg · waited ${ms(e.waitMs)}`;
      case 'batch.completed': return `${e.channelKey} · ${ms(e.durationMs)} · ${e.replies} repl${e.replies === 1 ? 'y' : 'ies'}`;
      case 'batch.cancelled': return `${e.channelKey} · ${e.reason} after ${ms(e.durationMs)}`;
      case 'batch.failed': return `${e.channelKey} · ${e.error}`;
      case 'message.dropped': return `${e.channelKey} · ${e.count} · ${e.reason}`;
      case 'queue.cleared': return `${e.channelKey} · ${e.removed} removed`;
      default: return e.channelKey;
    }
  }
  function onEvent(type, e) {
    const t = e.at / 1000;
    if (type === 'batch.flushed' && (e.reason === 'window' || e.reason === 'maxWait')) {
      state.late.t.push(t);
      state.late.ms.push(e.latenessMs);
    } else if (type === 'batch.completed' || type === 'batch.failed' || type === 'batch.cancelled') {
      state.proc.t.push(t);
      state.proc.ms.push(e.durationMs);
    }
    // Per-batch start/completion lines would flood the log on a busy gateway; keep the ones people act on.
    if (type !== 'batch.started' && type !== 'message.appended') logLine(type, describe(e));
    if (type === 'batch.failed') scheduleDeadLetters();
    scheduleCharts();
    scheduleTableRefresh();
  }
  let chartsQueued = false;
  function scheduleCharts() {
    if (chartsQueued) return;
    chartsQueued = true;
    requestAnimationFrame(() => {
      chartsQueued = false;
      drawEventCharts();
    });
  }
  async function streamEvents() {
    let delay = 1000;
    for (;;) {
      try {
        const headers = state.token ? { authorization: `Bearer ${state.token}` } : {};
        const res = await fetch('/api/v1/events', { headers });
        if (res.status === 401) throw new AuthError('token required');
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        setConn('live', 'live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let type = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) onEvent(type, JSON.parse(data));
          }
        }
      } catch (err) {
        if (err instanceof AuthError) return onError(err);
      }
      setConn('down', 'reconnecting…');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  function onError(err) {
    if (err instanceof AuthError) {
      sessionStorage.removeItem(TOKEN_KEY);
      showAuth(state.token ? 'That token was refused.' : '');
      return;
    }
    logLine('error', err.message);
  }

  async function start() {
    try {
      await api('GET', '/api/v1/stats');
    } catch (err) {
      return onError(err);
    }
    $('auth').hidden = true;
    $('app').hidden = false;
    if (state.started) return;
    state.started = true;
    makeCharts();
    const tick = () => Promise.all([refreshStats(), refreshTable()]).catch(onError);
    await tick();
    setInterval(tick, 1000);
    scheduleDeadLetters();
    // In-flight timers tick between refreshes.
    setInterval(() => {
      for (const row of $('rows').querySelectorAll('tr.busy')) {
        const c = state.channels.find((x) => x.key === row.dataset.key);
        if (c && c.inFlight) row.querySelector('.inflight').textContent = `${c.inFlight.size} msg · ${elapsed(c.inFlight.startedAt)}`;
      }
    }, 250);
    void streamEvents();
  }

  start();
})();

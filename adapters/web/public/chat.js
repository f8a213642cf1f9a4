// batchgate web chat. Plain script, no build step, no dependencies. Protocol: adapters/web/protocol.ts.
'use strict';

(() => {
  const KEY_CHANNEL = 'batchgate.chat.channelId';
  const KEY_TRANSCRIPT = 'batchgate.chat.transcript';
  const KEY_NAME = 'batchgate.chat.name';
  const MAX_TRANSCRIPT = 200;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10_000;
  /** Least time between two typing frames: the server holds the open batch for its typingHoldMs on each. */
  const TYPING_EVERY_MS = 2_000;

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const log = $('log');
  const statusEl = $('status');
  const typingEl = $('typing');
  const composer = $('composer');
  const composerForm = $('composer-form');
  const nameInput = $('name');
  const nameForm = $('name-form');
  const attachInput = $('attach');
  const chip = $('attachment-chip');
  const chipName = $('attachment-name');

  // localStorage throws in some private modes; the chat still works, it just forgets on reload.
  const store = {
    get(key) {
      try { return localStorage.getItem(key); } catch { return null; }
    },
    set(key, value) {
      try { localStorage.setItem(key, value); } catch { /* storage full or disabled */ }
    },
  };

  let socket = null;
  let connected = false;
  let attempt = 0;
  let reconnectTimer = 0;
  let reconnectAt = 0;
  let limits = { maxTextChars: 4000, maxFrameBytes: 16384, maxAttachmentBytes: 65536 };
  /** The file chosen for the next message, or null. */
  let pendingFile = null;
  /** clientId → message frame not yet confirmed by the server; resent after a reconnect. */
  const outbox = new Map();
  /** clientId → bubble element of the user's own messages. */
  const bubbles = new Map();
  /** Open batch: when its window closes, in this browser's clock. */
  let collecting = null;
  let waitingForBot = false;
  let processingBatch = null;
  let countdownTimer = 0;
  let flash = null;
  /** Server id of the newest message of this channel, from any tab. */
  let lastMessageId = null;

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // randomUUID exists only in secure contexts; a phone on a plain-http LAN address has getRandomValues alone.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- transcript ----------------------------------------------------------------------------------

  function loadTranscript() {
    try {
      const list = JSON.parse(store.get(KEY_TRANSCRIPT) || '[]');
      return Array.isArray(list) ? list : [];
    } catch {
      return [];
    }
  }

  /** Several tabs share the transcript: re-read before writing and skip entries another tab saved. */
  function remember(entry) {
    const list = loadTranscript();
    const at = list.findIndex((e) => e.key === entry.key);
    // A streamed reply's final frame replaces what an earlier one left.
    if (at !== -1) list[at] = entry;
    else list.push(entry);
    store.set(KEY_TRANSCRIPT, JSON.stringify(list.slice(-MAX_TRANSCRIPT)));
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function append(node) {
    const stick = nearBottom();
    $('empty')?.remove();
    log.append(node);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function formatBytes(n) {
    return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(n < 10_240 ? 1 : 0)} KB`;
  }

  function bubble(kind, text, who, file) {
    const p = document.createElement('p');
    p.className = `msg msg-${kind}`;
    p.dataset.testid = `message-${kind}`;
    const label = document.createElement('span');
    label.className = 'visually-hidden';
    label.textContent = kind === 'user' ? `${who || 'You'}: ` : 'bot: ';
    const body = document.createElement('span');
    body.className = 'text';
    body.dataset.testid = 'message-text';
    body.textContent = text;
    p.append(label, body);
    if (file) {
      const f = document.createElement('span');
      f.className = 'file';
      f.dataset.testid = 'message-file';
      f.textContent = `📎 ${file.name} (${formatBytes(file.size)})`;
      p.append(f);
    }
    return p;
  }

  function notice(text, isError) {
    const p = document.createElement('p');
    p.className = isError ? 'notice notice-error' : 'notice';
    p.dataset.testid = 'notice';
    p.textContent = text;
    append(p);
  }

  function showUser(key, text, userName, state, file) {
    const el = bubble('user', text, userName, file);
    el.dataset.key = key;
    if (state) el.dataset.state = state;
    append(el);
    return el;
  }

  // A streamed reply arrives as frames with one id whose text grows; `streaming` is true until the last.
  function showBot(key, text, streaming) {
    const shown = log.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (shown) {
      const stick = nearBottom();
      shown.querySelector('[data-testid="message-text"]').textContent = text;
      shown.dataset.streaming = String(Boolean(streaming));
      if (stick) log.scrollTop = log.scrollHeight;
      return;
    }
    const el = bubble('bot', text);
    el.dataset.key = key;
    el.dataset.streaming = String(Boolean(streaming));
    append(el);
  }

  for (const e of loadTranscript()) {
    if (e.kind === 'bot') showBot(e.key, e.text);
    else showUser(e.key, e.text, e.userName, 'accepted', e.file);
  }

  // ---- status line ---------------------------------------------------------------------------------

  function renderStatus() {
    let text = '';
    let kind = '';
    const now = Date.now();
    if (!connected) {
      kind = 'offline';
      if (reconnectTimer) {
        const secs = Math.max(0, Math.ceil((reconnectAt - now) / 1000));
        text = secs > 0 ? `reconnecting… (retry in ${secs} s)` : 'reconnecting…';
      } else {
        text = 'connecting…';
      }
    } else if (collecting) {
      const left = collecting.deadline - now;
      kind = 'collecting';
      const n = collecting.pending === 1 ? '1 message' : `${collecting.pending} messages`;
      text = left > 0 ? `collecting… ${(left / 1000).toFixed(1)} s · ${n}` : 'sending to the bot…';
    } else if (waitingForBot && !processingBatch) {
      kind = 'waiting';
      text = 'waiting for the bot…';
    } else if (flash && flash.until > now) {
      kind = 'error';
      text = flash.text;
    }
    if (statusEl.textContent !== text) statusEl.textContent = text;
    statusEl.dataset.kind = kind;
  }

  /** Ticks only while something counts down, so an idle tab costs nothing. */
  function syncTimer() {
    const counting = (connected && collecting && collecting.deadline > Date.now()) || (!connected && reconnectTimer)
      || (flash && flash.until > Date.now());
    if (counting && !countdownTimer) countdownTimer = setInterval(tick, 100);
    if (!counting && countdownTimer) {
      clearInterval(countdownTimer);
      countdownTimer = 0;
    }
  }

  function tick() {
    renderStatus();
    syncTimer();
  }

  function update() {
    typingEl.hidden = !processingBatch;
    renderStatus();
    syncTimer();
  }

  function showError(text) {
    flash = { text, until: Date.now() + 6000 };
    update();
  }

  // ---- socket --------------------------------------------------------------------------------------

  function connect() {
    reconnectTimer = 0;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat/ws`;
    const ws = new WebSocket(url);
    socket = ws;
    ws.addEventListener('open', () => {
      const channelId = store.get(KEY_CHANNEL);
      ws.send(JSON.stringify(channelId ? { type: 'hello', channelId } : { type: 'hello' }));
    });
    ws.addEventListener('message', (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      onFrame(frame);
    });
    ws.addEventListener('close', (ev) => {
      if (socket !== ws) return;
      connected = false;
      socket = null;
      if (ev.code === 1009) showError('That message was too large to send.');
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    attempt++;
    reconnectAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
    update();
  }

  window.addEventListener('online', () => {
    if (!connected && reconnectTimer) {
      clearTimeout(reconnectTimer);
      connect();
    }
  });

  function onFrame(f) {
    switch (f.type) {
      case 'welcome':
        connected = true;
        attempt = 0;
        store.set(KEY_CHANNEL, f.channelId);
        limits = { maxTextChars: f.maxTextChars, maxFrameBytes: f.maxFrameBytes, maxAttachmentBytes: f.maxAttachmentBytes ?? 0 };
        attachInput.closest('label').hidden = limits.maxAttachmentBytes === 0;
        composer.maxLength = f.maxTextChars;
        // The server replays the channel's current state right after welcome.
        collecting = null;
        waitingForBot = false;
        processingBatch = null;
        for (const frame of outbox.values()) socket.send(JSON.stringify(frame));
        break;
      case 'accepted':
        lastMessageId = f.id;
        confirm(f.clientId);
        break;
      case 'user-message':
        lastMessageId = f.id;
        if (!bubbles.has(f.clientId)) {
          const key = `u:${f.clientId || f.id}`;
          const file = f.attachment ? { name: f.attachment.name, size: f.attachment.size } : undefined;
          showUser(key, f.text, f.userName, 'accepted', file);
          remember({ key, kind: 'user', text: f.text, userName: f.userName, at: f.at, file });
        }
        break;
      case 'collecting':
        collecting = { deadline: Date.now() + (f.deadline - f.now), pending: f.pending };
        break;
      case 'queued':
        collecting = null;
        waitingForBot = true;
        break;
      case 'processing':
        waitingForBot = false;
        if (collecting && collecting.deadline <= Date.now()) collecting = null;
        processingBatch = f.batchId;
        break;
      case 'idle':
        if (!f.batchId || f.batchId === processingBatch) processingBatch = null;
        if (f.outcome === 'failed') notice('The bot could not answer that.', true);
        if (f.outcome === 'cancelled') notice('Cancelled by an operator.', false);
        if (f.outcome === 'cleared') {
          collecting = null;
          waitingForBot = false;
          notice('Waiting messages were cleared by an operator.', false);
        }
        break;
      case 'reply':
        // A reply to the newest message proves its batch left the window, even if the queue's events
        // were not seen; a reply to an older batch leaves a newer open window alone.
        if (Array.isArray(f.inReplyTo) && f.inReplyTo.includes(lastMessageId)) {
          collecting = null;
          waitingForBot = false;
        }
        showBot(`r:${f.id}`, f.text, f.streaming);
        if (!f.streaming) remember({ key: `r:${f.id}`, kind: 'bot', text: f.text, at: f.at });
        break;
      case 'error':
        if (f.clientId && bubbles.has(f.clientId)) {
          // A retry after a reconnect may reach a server that already has the message.
          if (f.code === 'BG_ERR_DUPLICATE') confirm(f.clientId);
          else fail(f.clientId, f.reason);
        } else {
          showError(f.reason);
        }
        break;
      default:
        break;
    }
    update();
  }

  function confirm(clientId) {
    const frame = outbox.get(clientId);
    const el = bubbles.get(clientId);
    outbox.delete(clientId);
    if (!el || el.dataset.state === 'accepted') return;
    el.dataset.state = 'accepted';
    if (frame) {
      // The file's name and size only: its data stays out of localStorage.
      const file = frame.attachment ? { name: frame.attachment.name, size: frame.attachment.size } : undefined;
      remember({ key: `u:${clientId}`, kind: 'user', text: frame.text, userName: frame.userName, at: Date.now(), file });
    }
  }

  function fail(clientId, reason) {
    outbox.delete(clientId);
    const el = bubbles.get(clientId);
    if (!el) return;
    el.dataset.state = 'failed';
    const note = document.createElement('span');
    note.className = 'note';
    note.textContent = `Not sent: ${reason}`;
    el.append(note);
  }

  // ---- composing -----------------------------------------------------------------------------------

  const encoder = new TextEncoder();

  function readAsDataUrl(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  function chooseFile(file) {
    pendingFile = null;
    chip.hidden = true;
    attachInput.value = '';
    if (!file) return;
    if (file.size > limits.maxAttachmentBytes) {
      showError(`Files can be at most ${formatBytes(limits.maxAttachmentBytes)}; ${file.name} is ${formatBytes(file.size)}.`);
      return;
    }
    pendingFile = file;
    chipName.textContent = `📎 ${file.name} (${formatBytes(file.size)})`;
    chip.hidden = false;
  }

  async function submit() {
    const text = composer.value.trim();
    const file = pendingFile;
    if (!text && !file) return;
    if (text.length > limits.maxTextChars) {
      showError(`Messages can be at most ${limits.maxTextChars} characters.`);
      return;
    }
    const userName = (store.get(KEY_NAME) || '').trim() || 'You';
    const clientId = newId();
    const frame = { type: 'message', text, clientId, userName };
    if (encoder.encode(JSON.stringify(frame)).length > limits.maxFrameBytes) {
      showError('That message is too large to send.');
      return;
    }
    if (file) {
      let dataUrl;
      try {
        dataUrl = await readAsDataUrl(file);
      } catch {
        showError(`${file.name} could not be read.`);
        return;
      }
      // Read before the composer is cleared: a file that cannot be read leaves the message to edit.
      frame.attachment = { name: file.name, type: file.type || 'application/octet-stream', size: file.size, dataUrl };
      chooseFile(null);
    }
    const el = showUser(`u:${clientId}`, text, userName, 'sending', file ? { name: file.name, size: file.size } : undefined);
    el.scrollIntoView({ block: 'end' });
    bubbles.set(clientId, el);
    outbox.set(clientId, frame);
    composer.value = '';
    // Typing sent before this message could hold nothing (the person was not yet an author of the open
    // batch); the next keystroke may signal at once.
    lastTypingAt = 0;
    autosize();
    if (connected && socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  let lastTypingAt = 0;

  /** Tells the server the person is typing, at most every TYPING_EVERY_MS, so the bot waits for the next line. */
  function typingSignal() {
    if (!composer.value.trim() || !connected || !socket || socket.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (now - lastTypingAt < TYPING_EVERY_MS) return;
    lastTypingAt = now;
    socket.send(JSON.stringify({ type: 'typing' }));
  }

  function autosize() {
    composer.style.height = 'auto';
    composer.style.height = `${Math.min(composer.scrollHeight + 2, 144)}px`;
  }

  composer.addEventListener('keydown', (ev) => {
    // Enter sends, Shift+Enter is a newline; an IME composing text keeps its Enter.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  composer.addEventListener('input', () => {
    autosize();
    typingSignal();
  });
  attachInput.addEventListener('change', () => chooseFile(attachInput.files && attachInput.files[0]));
  $('attachment-remove').addEventListener('click', () => chooseFile(null));
  composerForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
    composer.focus();
  });

  nameInput.value = store.get(KEY_NAME) || '';
  nameForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    store.set(KEY_NAME, nameInput.value.trim().slice(0, 64));
    nameForm.closest('details').open = false;
  });

  log.scrollTop = log.scrollHeight;
  update();
  connect();
})();

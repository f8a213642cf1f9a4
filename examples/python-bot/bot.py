#!/usr/bin/env python3
"""A batchgate bot behind the HTTP processor, in plain Python (standard library only).

batchgate POSTs each batch as JSON:
    {"batch": {"id", "channelKey", "platform", "channelId", "flushReason",
               "firstAt", "lastAt", "messages": [{"id", "userId", "userName", "text", ...}]},
     "attempt": 1}
and publishes what the bot answers: {"replies": [{"text": "..."}]} (or 204 for no reply).
In steer mode the request also carries "steerUrl" and "steerToken": between its two slow steps the bot
POSTs steerUrl with "Authorization: Bearer <steerToken>" and answers the messages it gets too.

Environment:
    PORT        port to listen on (default 8000; 0 picks a free one)
    HOST        address to bind (default 127.0.0.1)
    BOT_STEP_SECONDS  how long each of the bot's two "slow steps" takes (default 0)
    BOT_STEER_WAIT_MS steer mode: how long the take between the steps waits for a message (default 0)
    BOT_SECRET  when set, requests must carry X-Batchgate-Timestamp (unix seconds, within 300 s of this
                machine's clock) and X-Batchgate-Signature:
                v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>
"""

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("BOT_SECRET", "")
MAX_BODY = 4 * 1024 * 1024
TOLERANCE_S = 300


def signature_problem(body: bytes, timestamp: str, signature: str):
    """None when the request is signed by batchgate, else what is wrong with it."""
    if not SECRET:
        return None
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return "missing or stale X-Batchgate-Timestamp"
    mac = hmac.new(SECRET.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    # compare_digest: constant time, so the signature cannot be guessed byte by byte.
    if not hmac.compare_digest(("v1=" + mac).encode(), signature.encode()):
        return "bad X-Batchgate-Signature"
    return None


STEP_S = float(os.environ.get("BOT_STEP_SECONDS", "0"))
STEER_WAIT_MS = int(os.environ.get("BOT_STEER_WAIT_MS", "0"))


def steered(payload: dict) -> list:
    """Steer mode: the messages that arrived while this batch runs (taken: they are ours to answer)."""
    url = payload.get("steerUrl")
    if not url:
        return []
    if STEER_WAIT_MS > 0:
        url += f"?waitMs={STEER_WAIT_MS}"
    req = urllib.request.Request(url, method="POST", headers={"Authorization": "Bearer " + payload["steerToken"]})
    with urllib.request.urlopen(req, timeout=STEER_WAIT_MS / 1000 + 30) as res:
        return json.loads(res.read())["messages"]


def answer(batch: dict, payload: dict) -> list:
    """The bot itself: one reply summarizing the whole burst instead of one reply per message."""
    time.sleep(STEP_S)  # first slow step (think: a tool call)
    messages = batch.get("messages", []) + steered(payload)
    time.sleep(STEP_S)  # second slow step, now knowing everything the person said
    if not messages:
        return []
    authors = []
    for m in messages:
        if m["userName"] not in authors:
            authors.append(m["userName"])
    count = len(messages)
    noun = "message" if count == 1 else "messages"
    texts = "; ".join(m["text"] for m in messages)
    who = authors[0] if len(authors) == 1 else ", ".join(authors)
    return [{"text": f"{who}: you sent {count} {noun}: {texts}"}]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.send_json(413, {"error": "body too large"})
        body = self.rfile.read(length)
        problem = signature_problem(body, self.headers.get("X-Batchgate-Timestamp", ""), self.headers.get("X-Batchgate-Signature", ""))
        if problem:
            return self.send_json(401, {"error": problem})
        try:
            payload = json.loads(body)
            batch = payload["batch"]
        except (ValueError, KeyError, TypeError):
            return self.send_json(400, {"error": "expected {batch: {...}, attempt}"})
        replies = answer(batch, payload)
        if not replies:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.send_json(200, {"replies": replies})

    def send_json(self, status: int, obj: dict):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("bot: " + (fmt % args) + "\n")


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer((host, port), Handler)
    # The real port (PORT=0 picks one); tests read this line.
    print(f"bot listening on http://{host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""A scripted chat-completions server on 127.0.0.1 and a bag-of-words similarity,
for the tests of rag.generate (no network beyond the loopback interface)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import numpy as np

from rag.generate import QuoteInput

QUOTES = [
    QuoteInput(1, "The Department of Energy will provide $3 billion to 12 states to replace "
                  "lead pipes, Secretary Jennifer Granholm announced.",
               "2022/03/24/lead-pipes", "FACT SHEET: Biden-Harris Administration Replaces Lead "
               "Pipes", "2022-03-24"),
    QuoteInput(2, "The funding is expected to create 40,000 jobs over five years.",
               "2022/03/24/lead-pipes", "FACT SHEET: Biden-Harris Administration Replaces Lead "
               "Pipes", "2022-03-24"),
    QuoteInput(3, "Nearly 30 percent of the pipes are in schools and child care centers.",
               "2022/04/02/schools", "Statement on Safe Water in Schools", "2022-04-02"),
]


def bag_of_words(a: list[str], b: list[str]) -> np.ndarray:
    """Cosine similarity of word counts: deterministic, and high for shared wording."""
    def vector(text: str) -> Counter:
        return Counter(re.findall(r"[a-z0-9]+", text.lower()))
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            u, v = vector(x), vector(y)
            dot = sum(u[w] * v[w] for w in u)
            norm = (sum(c * c for c in u.values()) * sum(c * c for c in v.values())) ** 0.5
            out[i, j] = dot / norm if norm else 0.0
    return out


def reply_body(content: Any) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}


@dataclass
class Step:
    """What the server does with the next request: status, headers, body, or a pause."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    sleep: float = 0.0
    events: list[str] | None = None  # server-sent events, sent one by one
    pause: float = 0.0  # between events


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted step (the last one repeats)."""

    steps: list[Step] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def reply(self, content: Any) -> None:
        self.steps.append(Step(body=json.dumps(reply_body(content)).encode()))

    def raw(self, body: bytes | str, status: int = 200, content_type: str = "application/json",
            sleep: float = 0.0) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.steps.append(Step(status=status, body=data, content_type=content_type, sleep=sleep))

    def stream(self, pieces: list[str], *, extra: list[str] = (), pause: float = 0.0) -> None:
        # As OpenAI's API: a first event with only the role, a last one with only usage.
        events = [json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
                  *(json.dumps({"choices": [{"index": 0, "delta": {"content": p}}]})
                    for p in pieces),
                  json.dumps({"choices": [], "usage": {"completion_tokens": len(pieces)}})]
        self.steps.append(Step(events=[*events, *extra, "[DONE]"], pause=pause))


def start_server(script: ScriptedServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep the test output quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            script.received.append(Received(self.path, dict(self.headers.items()), body))
            step = script.steps[min(len(script.received), len(script.steps)) - 1]
            if step.sleep:
                time.sleep(step.sleep)
            try:
                if step.events is not None:  # chunked, as real servers stream
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for event in step.events:
                        data = f"data: {event}\n\n".encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                        time.sleep(step.pause)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_response(step.status)
                self.send_header("Content-Type", step.content_type)
                self.send_header("Content-Length", str(len(step.body)))
                self.end_headers()
                self.wfile.write(step.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    script.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return server


@contextlib.contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """A running scripted chat-completions server on loopback, shut down on exit."""
    script = ScriptedServer()
    server = start_server(script)
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()

"""A small OpenAI-compatible chat-completions server for tests, on 127.0.0.1 and a free port.

Replies are scripted: a queue of `Reply`s is served first, then `responder(body)` (default: a
fixed JSON object). A reply can also misbehave as real servers and proxies do: send a body that
is not a chat completion (`Reply.raw`), replace fields of the completion (`patch`), or drip the
whole response (status line, headers, body) one byte at a time (`drip`). It records every request (headers and JSON body) and the most requests it
ever had in flight at once. Use it as a context manager or through the `fake_llm` fixture:

    from fake_llm_server import FakeLLMServer, Reply   # the `fake_llm` fixture is in conftest.py

    def test_something(fake_llm):
        fake_llm.script(Reply.status(429), Reply.json({"score": 5, "reason": "fine"}))
        client = OpenAI(base_url=fake_llm.url, api_key="test")
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: a chat completion (`content`) or an error (`status` != 200)."""

    content: str = "{}"
    status: int = 200
    delay: float = 0.0  # seconds before answering
    usage: tuple[int, int] | None = (100, 50)  # (prompt, completion) tokens; None: no usage field
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    patch: dict[str, Any] = field(default_factory=dict)  # top-level fields that replace the completion's
    raw: bytes | None = None  # the exact body to send instead of a completion
    content_type: str = "application/json"
    drip: float = 0.0  # seconds between single bytes of the response; 0: all at once

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> Reply:
        return cls(content=json.dumps(obj), **kw)

    @classmethod
    def text(cls, text: str, **kw: Any) -> Reply:
        return cls(content=text, **kw)

    @classmethod
    def raw_body(cls, body: str | bytes, content_type: str = "application/json", **kw: Any) -> Reply:
        """A 200 whose body is exactly `body` (an HTML error page, a JSON array...)."""
        return cls(raw=body.encode() if isinstance(body, str) else body, content_type=content_type, **kw)

    @classmethod
    def error(cls, status: int, message: str = "scripted error", **kw: Any) -> Reply:
        return cls(content=message, status=status, **kw)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    def text(self) -> str:
        """All text parts of all messages, joined."""
        parts = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if p.get("type") == "text")
        return "\n".join(parts)


Responder = Callable[[dict[str, Any]], Reply]


class FakeLLMServer:
    def __init__(self, responder: Responder | None = None, delay: float = 0.0) -> None:
        self.responder: Responder = responder or (lambda body: Reply.json({"ok": True}))
        self.delay = delay  # added to every reply
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        self._queue: deque[Reply] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Serve these replies, in order, to the next requests (then the responder again)."""
        with self._lock:
            self._queue.extend(replies)

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.responder(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with server._lock:
                    server.requests.append(
                        RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    reply = server._next_reply(body)
                    time.sleep(server.delay + reply.delay)
                    self._answer(reply, body)
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
                if reply.status != 200:
                    payload = {"error": {"message": reply.content, "type": "scripted", "code": reply.status}}
                else:
                    payload = {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": reply.finish_reason,
                                "message": {"role": "assistant", "content": reply.content},
                            }
                        ],
                    }
                    if reply.usage is not None:
                        p, c = reply.usage
                        payload["usage"] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
                    payload.update(reply.patch)
                data = reply.raw if reply.raw is not None else json.dumps(payload).encode()
                headers = {"content-type": reply.content_type, "content-length": str(len(data)), **reply.headers}
                if reply.drip:
                    self._drip(reply, headers, data)
                    return
                self.send_response(reply.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _drip(self, reply: Reply, headers: dict[str, str], data: bytes) -> None:
                head = [
                    f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}",
                    *(f"{key}: {value}" for key, value in headers.items()),
                    "",
                    "",
                ]
                response = "\r\n".join(head).encode() + data
                self.close_connection = True
                try:
                    for i in range(len(response)):
                        self.wfile.write(response[i : i + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                except OSError:  # the client gave up
                    pass

        return Handler

"""A total deadline for one HTTP request, enforced at the socket.

httpx's timeouts bound each socket operation, not the request: a server that sends one byte a
second never trips a 5 s read timeout. Here every connect, read and write of the calling
thread's request waits at most until the deadline set by `request_deadline`, so the request
ends at the deadline (as a timeout) whatever the server does, and leaves no thread behind.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore2
import httpx2

_deadline: ContextVar[float | None] = ContextVar("llm_request_deadline", default=None)
WRITE_CHUNK = 64 * 1024  # the deadline is checked between chunks of a large request body


@contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Requests made by this thread inside the block end after `seconds` in total."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` shortened to what is left before the deadline; `expired` when nothing is."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, stream: httpcore2.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        for start in range(0, len(view), WRITE_CHUNK):
            self._stream.write(view[start : start + WRITE_CHUNK], _bounded(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        bounded = _bounded(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, backend: httpcore2.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        bounded = _bounded(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        bounded = _bounded(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def with_deadlines(client: httpx2.Client) -> httpx2.Client:
    """`client` with `request_deadline` enforced on its direct and proxied connections.

    httpx has no public way to choose the network backend, so it is swapped on each
    transport's connection pool (all of them are httpcore pools)."""
    for transport in [client._transport, *(t for t in client._mounts.values() if t is not None)]:
        pool = getattr(transport, "_pool", None)
        if pool is None or not hasattr(pool, "_network_backend"):
            raise RuntimeError(f"cannot bound requests of {type(transport).__name__}: httpx internals changed")
        pool._network_backend = _DeadlineBackend(pool._network_backend)
    return client

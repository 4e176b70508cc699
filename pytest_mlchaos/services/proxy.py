"""A small fault-injecting TCP proxy (stdlib only) between a pipeline and one service on loopback.

It refuses connections (the listening socket is closed: the port answers "connection refused"),
adds latency, drops or resets a fraction of connections, answers HTTP 503 or S3 ``SlowDown``
for a fraction of requests, and cuts a response after N bytes. Every decision is drawn from a
generator seeded by ``(seed, connection number)``: the same seed gives the same decisions for
the same sequence of connections, whatever the thread timing.

To make the HTTP faults per request, the proxy adds ``Connection: close`` to the head of the
request it forwards, so a client opens one connection per request (cheap on loopback). It
expects the client to speak first (HTTP): a protocol where the server greets first is not for it.
"""

from __future__ import annotations

import random
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

ERROR_KINDS = ("503", "slowdown")
_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


class ProxyError(ValueError):
    """A fault setting out of range; the message names the value and what is allowed."""


@dataclass(frozen=True)
class Faults:
    """What the proxy does to traffic; the default is a clean pass-through.

    - ``refuse``: stop listening (new connections are refused by the kernel);
    - ``latency``: seconds waited before a connection's request is forwarded;
    - ``drop``: share of connections closed after the request is read, without an answer;
    - ``reset``: share of connections reset (RST) after the request is read;
    - ``error``: share of requests answered by the proxy with ``error_kind`` (``503``, or S3's
      ``SlowDown``, also a 503) instead of being forwarded;
    - ``cut_after``: the response is cut (connection closed) after this many bytes;
    - ``error_paths``: when set, only requests whose path starts with one of these prefixes get the ``error``
      answer (e.g. an MLflow server whose model registry is down while its tracking API answers).
    """

    refuse: bool = False
    latency: float = 0.0
    drop: float = 0.0
    reset: float = 0.0
    error: float = 0.0
    error_kind: str = "503"
    cut_after: int | None = None
    error_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.latency, (int, float)) or not 0.0 <= self.latency <= 600.0:
            raise ProxyError(f"latency={self.latency!r} must be a number of seconds in [0, 600]")
        for name in ("drop", "reset", "error"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ProxyError(f"{name}={value!r} must be a fraction in [0, 1]")
        if self.drop + self.reset > 1.0:
            raise ProxyError(f"drop={self.drop!r} + reset={self.reset!r} must not exceed 1")
        if self.error_kind not in ERROR_KINDS:
            raise ProxyError(f"error_kind={self.error_kind!r} is not allowed; one of {', '.join(ERROR_KINDS)}")
        if self.cut_after is not None and (
            isinstance(self.cut_after, bool) or not isinstance(self.cut_after, int) or self.cut_after < 0
        ):
            raise ProxyError(f"cut_after={self.cut_after!r} must be a non-negative integer number of bytes or None")
        if not isinstance(self.error_paths, tuple) or not all(
            isinstance(p, str) and p.startswith("/") for p in self.error_paths
        ):
            raise ProxyError(f"error_paths={self.error_paths!r} must be a tuple of URL paths starting with '/'")

    @property
    def clean(self) -> bool:
        return self == Faults()


@dataclass(frozen=True)
class Decision:
    """What the proxy decided for one connection (``action``: forward, drop, reset, error)."""

    index: int
    action: str
    latency: float = 0.0
    cut_after: int | None = None


def decide(seed: int, index: int, faults: Faults) -> Decision:
    """The decision for connection ``index`` under ``faults``: a pure function of its arguments."""
    rng = random.Random(f"{seed}:{index}")
    draw = rng.random()
    if draw < faults.reset:
        action = "reset"
    elif draw < faults.reset + faults.drop:
        action = "drop"
    elif rng.random() < faults.error:
        action = "error"
    else:
        action = "forward"
    return Decision(index, action, faults.latency, faults.cut_after)


@dataclass
class ProxyStats:
    """Counts of what the proxy did since it started (for tests and the incident's description)."""

    connections: int = 0
    decisions: list[Decision] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for d in self.decisions if d.action == action)


def error_response(kind: str, head_only: bool = False) -> bytes:
    """The HTTP answer the proxy gives instead of the service: a plain 503, or S3's ``SlowDown`` (XML, 503);
    ``head_only`` for a HEAD request (its answer has no body)."""
    if kind == "slowdown":
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message><RequestId>mlchaos</RequestId></Error>"
        )
        ctype = b"application/xml"
    else:
        body, ctype = b"Service Unavailable (mlchaos proxy)\n", b"text/plain"
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
        + ctype
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        + (b"" if head_only else body)
    )


class FaultProxy:
    """Listens on 127.0.0.1 (a free port unless ``port`` is given) and forwards to ``upstream``.

    >>> with FaultProxy(("127.0.0.1", 9000), seed=1) as proxy:  # doctest: +SKIP
    ...     proxy.set_faults(Faults(error=0.5, error_kind="slowdown"))
    """

    def __init__(self, upstream: tuple[str, int], *, seed: int = 0, port: int = 0, name: str = "proxy") -> None:
        host = upstream[0]
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ProxyError(f"upstream {upstream!r}: the proxy forwards to loopback only (127.0.0.1)")
        self.upstream = ("127.0.0.1" if host == "localhost" else host, int(upstream[1]))
        self.seed = seed
        self.name = name
        self.stats = ProxyStats()
        self._faults = Faults()
        self._lock = threading.Lock()
        self._port = port
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._closed = threading.Event()
        self._open: set[socket.socket] = set()

    # -- lifetime -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def faults(self) -> Faults:
        return self._faults

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def close(self) -> None:
        self._closed.set()
        self._stop_listening()
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            _close(conn)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faults ---------------------------------------------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        """Apply ``faults`` to new connections from now on (``refuse`` closes or reopens the port at once)."""
        if not isinstance(faults, Faults):
            raise ProxyError(f"set_faults() needs a Faults, got {faults!r}")
        self._faults = faults
        if faults.refuse:
            self._stop_listening()
            with self._lock:  # an outage also breaks the connections in flight
                conns, self._open = list(self._open), set()
            for conn in conns:
                _close(conn, reset=True)
        elif self._listener is None and not self._closed.is_set():
            self._listen()

    def lift(self) -> None:
        """Back to a clean pass-through."""
        self.set_faults(Faults())

    def reseed(self, seed: int) -> None:
        """Decide from ``seed`` again, counting connections from 0 (so an incident's seed replays its decisions
        whatever traffic the proxy saw before)."""
        with self._lock:
            self.seed = seed
            self.stats = ProxyStats()

    # -- the listening socket --------------------------------------------------------------------------
    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5.0
        while True:
            try:
                sock.bind(("127.0.0.1", self._port))
                break
            except OSError:
                if self._port == 0 or time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(0.05)
        sock.listen(64)
        self._port = sock.getsockname()[1]
        self._listener = sock
        self._accepting = threading.Thread(target=self._accept_loop, args=(sock,), name=f"{self.name}-accept")
        self._accepting.daemon = True
        self._accepting.start()

    def _stop_listening(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        thread, self._accepting = self._accepting, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            with self._lock:
                index = self.stats.connections
                self.stats.connections += 1
                decision = decide(self.seed, index, self._faults)
                self.stats.decisions.append(decision)
                self._open.add(conn)
            kind, paths = self._faults.error_kind, self._faults.error_paths
            worker = threading.Thread(
                target=self._serve, args=(conn, decision, kind, paths), name=f"{self.name}-{index}"
            )
            worker.daemon = True
            worker.start()

    # -- one connection ------------------------------------------------------------------------------------
    def _serve(
        self, client: socket.socket, decision: Decision, error_kind: str, error_paths: tuple[str, ...] = ()
    ) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(30.0)
            head, rest = _read_head(client)
            if decision.latency:
                time.sleep(decision.latency)
            if decision.action == "reset":
                _close(client, reset=True)
                return
            if decision.action == "drop":
                return
            if decision.action == "error" and (not error_paths or request_path(head).startswith(error_paths)):
                client.sendall(error_response(error_kind, head_only=head.startswith(b"HEAD ")))
                return
            upstream = socket.create_connection(self.upstream, timeout=30.0)
            with self._lock:
                self._open.add(upstream)
            upstream.sendall(_close_after(head) + rest)
            _pipe(client, upstream, decision.cut_after)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(client)
                if upstream is not None:
                    self._open.discard(upstream)
            _close(client)
            if upstream is not None:
                _close(upstream)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request head (up to and with the blank line) and whatever came after it; (b"", data) when the
    bytes are not HTTP or exceed the limit (then they are forwarded as they are)."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            break
        data += chunk
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return b"", data
    return data[: end + 4], data[end + 4 :]


def request_path(head: bytes) -> str:
    """The path of an HTTP request head (``GET /api/x?y HTTP/1.1`` -> ``/api/x?y``); "" when it is not HTTP."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) == 3 else ""


def _close_after(head: bytes) -> bytes:
    """The request head with ``Connection: close`` (one request per connection, so each one gets a decision)."""
    if not head:
        return head
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]] + [line for line in lines[1:] if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n"


def _pipe(client: socket.socket, upstream: socket.socket, cut_after: int | None) -> None:
    """Copy both ways until either side closes; the upstream->client direction stops after ``cut_after`` bytes."""
    sent = 0
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, upstream)
    sel.register(upstream, selectors.EVENT_READ, client)
    try:
        while True:
            events = sel.select(timeout=60.0)
            if not events:
                return
            for key, _ in events:
                source = key.fileobj
                assert isinstance(source, socket.socket)
                data = source.recv(_CHUNK)
                if not data:
                    return
                target: socket.socket = key.data
                if source is upstream and cut_after is not None:
                    allowed = cut_after - sent
                    if len(data) >= allowed:
                        if allowed > 0:
                            target.sendall(data[:allowed])
                        _close(client, reset=True)
                        return
                    sent += len(data)
                target.sendall(data)
    finally:
        sel.close()


def _close(sock: socket.socket, reset: bool = False) -> None:
    """Close ``sock``, waking a thread blocked reading it; ``reset`` sends an RST instead of a FIN."""
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


__all__ = [
    "ERROR_KINDS",
    "Decision",
    "FaultProxy",
    "Faults",
    "ProxyError",
    "ProxyStats",
    "decide",
    "error_response",
    "request_path",
]

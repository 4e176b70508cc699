"""The fault-injecting proxy on its own, against a tiny HTTP server on loopback."""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_mlchaos.services.proxy import FaultProxy, Faults, ProxyError, decide

BODY = b"x" * 100_000


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        data = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, int]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream: tuple[str, int]) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, seed=7) as p:
        yield p


def get(port: int, method: str = "GET", body: bytes | None = None, path: str = "/thing") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_clean_proxy_forwards_requests_and_bodies_both_ways(proxy: FaultProxy) -> None:
    assert get(proxy.port) == (200, BODY)
    assert get(proxy.port, "PUT", b"hello" * 1000) == (200, b"hello" * 1000)
    assert proxy.stats.count("forward") == 2


def test_refuse_closes_the_port_and_lift_opens_it_again(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(refuse=True))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    proxy.lift()
    assert get(proxy.port)[0] == 200


def test_latency_delays_each_request(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(latency=0.3))
    start = time.perf_counter()
    assert get(proxy.port)[0] == 200
    assert time.perf_counter() - start >= 0.3


def test_error_answers_503_or_slowdown_without_reaching_the_service(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(error=1.0, error_kind="slowdown"))
    status, body = get(proxy.port)
    assert status == 503 and b"<Code>SlowDown</Code>" in body
    proxy.set_faults(Faults(error=1.0))
    status, body = get(proxy.port, "PUT", b"data")
    assert status == 503 and b"Service Unavailable" in body


def test_error_paths_fail_only_the_requests_under_them(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(error=1.0, error_paths=("/api/2.0/mlflow/registered-models/",)))
    assert get(proxy.port, path="/api/2.0/mlflow/registered-models/alias?name=m")[0] == 503
    assert get(proxy.port, path="/api/2.0/mlflow/runs/get?run_id=1") == (200, BODY)
    assert get(proxy.port, path="/thing") == (200, BODY)


def test_drop_and_reset_break_the_connection(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(drop=1.0))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(proxy.port)
    proxy.set_faults(Faults(reset=1.0))
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        get(proxy.port)


def test_cut_after_truncates_the_response(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(cut_after=5000))
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        get(proxy.port)


def test_a_fraction_fails_and_the_same_seed_makes_the_same_decisions(upstream: tuple[str, int]) -> None:
    outcomes = []
    for _ in range(2):
        with FaultProxy(upstream, seed=11) as p:
            p.set_faults(Faults(error=0.5))
            outcomes.append([get(p.port)[0] for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert 3 <= outcomes[0].count(503) <= 17 and outcomes[0].count(200) + outcomes[0].count(503) == 20
    other = [decide(12, i, Faults(error=0.5)).action for i in range(20)]
    assert other != [decide(11, i, Faults(error=0.5)).action for i in range(20)]


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"drop": 1.5}, "drop=1.5 must be a fraction in [0, 1]"),
        ({"latency": -1}, "latency=-1 must be a number of seconds"),
        ({"error_kind": "500"}, "error_kind='500' is not allowed; one of 503, slowdown"),
        ({"cut_after": -3}, "cut_after=-3 must be a non-negative integer"),
        ({"drop": 0.6, "reset": 0.6}, "must not exceed 1"),
        ({"error_paths": ["/api"]}, "error_paths=['/api'] must be a tuple of URL paths starting with '/'"),
        ({"error_paths": ("api",)}, "must be a tuple of URL paths starting with '/'"),
    ],
)
def test_bad_fault_settings_are_refused_naming_the_value(faults: dict[str, object], message: str) -> None:
    with pytest.raises(ProxyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Faults(**faults)  # type: ignore[arg-type]  # the point is the bad value


def test_the_proxy_forwards_to_loopback_only() -> None:
    with pytest.raises(ProxyError, match="loopback only"):
        FaultProxy(("10.0.0.1", 80))


def test_reseed_replays_the_decisions_whatever_came_before(proxy: FaultProxy) -> None:
    proxy.set_faults(Faults(error=0.5))
    proxy.reseed(3)
    first = [get(proxy.port)[0] for _ in range(10)]
    for _ in range(7):
        get(proxy.port)
    proxy.reseed(3)
    assert [get(proxy.port)[0] for _ in range(10)] == first

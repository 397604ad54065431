"""Slow and idle clients cannot take the server down: request deadline, descriptors, accept-error log.

Every server here listens on 127.0.0.1 only, and every test is bounded in time and connections.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.security import ApiKeyStore
from api.server import ACCEPT_ERROR, AcceptErrorThrottle, raised_open_file_limit, server_options
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.api_support import harness
from tests.scores_factory import make_scores, write_published

REQUEST_TIMEOUT = 0.5
OPEN_FILES = 256


@contextmanager
def served(home: Path, settings: Settings) -> Iterator[tuple[int, str]]:
    """A uvicorn server in a thread on a free loopback port with ``settings``' limits; (port, key)."""
    api = harness(home, units=10)
    config = uvicorn.Config(
        api.client.app, host="127.0.0.1", port=0, log_level="warning", **server_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - started < 15, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port, api.keys["all"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _seconds_until_closed(connection: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``connection`` (reads and drops whatever it sends)."""
    started = time.monotonic()
    connection.settimeout(limit)
    try:
        while connection.recv(4096):
            pass
    except TimeoutError:
        return float("inf")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_idle_connection_is_closed_after_the_request_timeout(tmp_path: Path) -> None:
    # Given a server whose clients have 0.5 s to send a request
    settings = Settings(server_request_timeout_seconds=REQUEST_TIMEOUT)
    with served(tmp_path, settings) as (port, _), _connect(port) as connection:
        # When a client connects and sends nothing
        waited = _seconds_until_closed(connection, limit=5)
    # Then the server closes the connection at the deadline (uvicorn alone never does)
    assert REQUEST_TIMEOUT * 0.8 <= waited < REQUEST_TIMEOUT + 2, f"idle connection closed after {waited} s"


def test_request_head_trickled_byte_by_byte_is_cut_at_the_deadline(tmp_path: Path) -> None:
    # Given a server whose clients have 0.5 s to send a request
    settings = Settings(server_request_timeout_seconds=REQUEST_TIMEOUT)
    with served(tmp_path, settings) as (port, _), _connect(port) as connection:
        # When a client sends a request line and then one header byte every 0.1 s (each byte would reset
        # uvicorn's keep-alive timer)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 4 and not closed:
            try:
                connection.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            time.sleep(0.1)
        waited = time.monotonic() - started if closed else _seconds_until_closed(connection, limit=1)
    # Then the connection is closed at the deadline, with no answer to the unfinished request
    assert waited < REQUEST_TIMEOUT + 2, f"a trickled request head kept its connection for {waited:.1f} s"


def test_request_body_sent_too_slowly_is_cut_at_the_deadline(tmp_path: Path) -> None:
    # Given a server whose clients have 0.5 s to send a request
    settings = Settings(server_request_timeout_seconds=REQUEST_TIMEOUT)
    with served(tmp_path, settings) as (port, key), _connect(port) as connection:
        # When a client announces a 1,000-byte body and sends 10 bytes of it
        connection.sendall(
            b"POST /v1/plans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"capacit'
        )
        waited = _seconds_until_closed(connection, limit=5)
    # Then the server drops the connection at the deadline
    assert waited < REQUEST_TIMEOUT + 2, f"a stalled body kept its connection for {waited} s"


def test_request_head_growing_past_the_size_limit_is_refused(tmp_path: Path) -> None:
    # Given a server that buffers at most 2 KiB of an unfinished request head
    settings = Settings(server_request_timeout_seconds=5, server_max_header_bytes=2048)
    with served(tmp_path, settings) as (port, _), _connect(port) as connection:
        # When a client sends 3 KiB of headers without ending the head
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 3072)
        time.sleep(0.2)
        connection.sendall(b"\r\n\r\n")
        connection.settimeout(5)
        answer = connection.recv(4096)
    # Then it is refused with 400 (nothing more is buffered for it)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_kept_alive_connection_serves_a_request_after_a_pause_longer_than_the_deadline(
    tmp_path: Path,
) -> None:
    # Given a server with a 0.5 s request deadline and uvicorn's 5 s keep-alive
    settings = Settings(server_request_timeout_seconds=REQUEST_TIMEOUT, server_keep_alive_seconds=5)
    with served(tmp_path, settings) as (port, key), httpx.Client(timeout=5) as client:
        url = f"http://127.0.0.1:{port}/v1/risk-areas"
        headers = {"Authorization": f"Bearer {key}"}
        # When a client sends a request, waits 1 s (between two requests), then sends another on the
        # same connection
        first = client.get(url, headers=headers)
        time.sleep(2 * REQUEST_TIMEOUT)
        second = client.get(url, headers=headers)
        connections = client._transport._pool.connections  # type: ignore[attr-defined]
    # Then both are answered: the deadline covers receiving a request, not the pause between requests
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert len(connections) == 1, "the second request should have reused the kept-alive connection"


def _published_home(home: Path) -> str:
    """A home with a published scoring snapshot and one API key; returns the key."""
    settings = Settings(home=home)
    write_published(ScoreStore(settings.scores_dir), make_scores(units=10))
    keys = ApiKeyStore(settings.api_keys_db)
    try:
        return keys.create("planner", frozenset({"read:candidates"}))[1]
    finally:
        keys.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.slow
def test_idle_connections_beyond_the_open_file_limit_do_not_starve_a_keyed_request(tmp_path: Path) -> None:
    # Given `tillsynsrisk serve` in a process that may hold 256 open files, with a 1 s request deadline
    key = _published_home(tmp_path)
    port = _free_port()
    env = {
        **os.environ,
        "TILLSYNSRISK_HOME": str(tmp_path),
        "TILLSYNSRISK_SERVER_REQUEST_TIMEOUT_SECONDS": "1",
    }
    # The limit is set before the CLI starts (both soft and hard: the server cannot raise it).
    program = (
        f"import resource; resource.setrlimit(resource.RLIMIT_NOFILE, ({OPEN_FILES}, {OPEN_FILES})); "
        "from cli import app; app()"
    )
    command = [sys.executable, "-c", program, "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with ExitStack() as stack:
        output = stack.enter_context(log.open("wb"))
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        stack.callback(_stop, server)
        with httpx.Client(timeout=1) as probe:
            started = time.monotonic()
            while True:
                assert server.poll() is None, f"serve exited: {log.read_text()}"
                assert time.monotonic() - started < 90, "serve did not start within 90 s"
                try:
                    if probe.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
        # When 300 clients connect and send nothing (more than the server has descriptors for)
        for _ in range(OPEN_FILES + 44):
            stack.enter_context(_connect(port))
        # Then a keyed request still gets its answer, once the deadline has closed the idle ones
        started = time.monotonic()
        with httpx.Client(timeout=20) as client:
            answer = client.get(
                f"http://127.0.0.1:{port}/v1/risk-areas", headers={"Authorization": f"Bearer {key}"}
            )
        waited = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert waited < 15, f"the keyed request waited {waited:.1f} s behind idle connections"
    # And running out of descriptors wrote a few lines, not a traceback per failed accept
    text = log.read_text(errors="replace")
    assert len(text) < 20_000, f"{len(text)} characters of server log; it begins: {text[:2000]}"
    assert text.count("Traceback") == 0, f"tracebacks in the server log: {text[:2000]}"


def _accept_error_record() -> logging.LogRecord:
    error = OSError(24, "Too many open files")
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, f"{ACCEPT_ERROR}\nsocket: <socket>", (), (OSError, error, None)
    )


def test_accept_errors_are_logged_once_per_interval_with_the_count_of_dropped_ones() -> None:
    # Given a throttle of one message per 10 s on a clock we move
    now = [0.0]
    throttle = AcceptErrorThrottle(interval_seconds=10, clock=lambda: now[0])
    # When 2,048 accept errors arrive in a second, then one more 11 s later
    passed = [throttle.filter(_accept_error_record()) for _ in range(2048)]
    now[0] = 11.0
    later = _accept_error_record()
    passed_later = throttle.filter(later)
    # Then one of the burst gets through, and the next one says how many were dropped, without traceback
    assert sum(passed) == 1, f"{sum(passed)} of a burst of 2,048 accept errors were logged"
    assert passed_later, "the first accept error after the interval should be logged"
    assert later.exc_info is None, "the traceback of an accept error should be dropped"
    assert "2047 more since the last message" in later.getMessage(), later.getMessage()
    assert "Too many open files" in later.getMessage(), later.getMessage()


def test_other_asyncio_records_pass_the_accept_error_throttle() -> None:
    throttle = AcceptErrorThrottle(interval_seconds=10, clock=lambda: 0.0)
    records = [logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Task exception", (), None)] * 3
    assert all(throttle.filter(record) for record in records), "only accept errors are throttled"


def test_open_file_limit_is_raised_to_the_hard_limit() -> None:
    # Given a process whose soft limit on open files is below its hard limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256) if hard == resource.RLIM_INFINITY else min(hard - 1, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        # When the server raises it at start-up
        limit = raised_open_file_limit()
        now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # Then the soft limit is the hard one (or unchanged when the hard limit is unlimited)
    expected = lowered if hard == resource.RLIM_INFINITY else hard
    assert (limit, now) == (expected, expected), f"soft limit {now}, reported {limit}, hard {hard}"

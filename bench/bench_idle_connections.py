"""Keyed requests while thousands of idle connections are held open against ``tillsynsrisk serve``.

The attack of a security review (issue 29): 20,000 connections that send nothing used up the server's
file descriptors, its accept loop wrote 189 MB of log in 40 s, and keyed requests timed out.

Method (loopback 127.0.0.1 only; bounded in connections and time):

1. Write a small published scoring snapshot and an API key into a temporary home and start
   ``tillsynsrisk serve`` in a subprocess (its output to a log file).
2. Open ``--connections`` TCP connections that send nothing (this process raises its own soft limit
   on open files to the hard one first).
3. For ``--seconds``, send a keyed ``GET /v1/risk-areas`` every ``--interval`` seconds on a new
   connection (timeout 5 s) and record status and latency; sample the server's open descriptors.
4. Stop the server (SIGTERM) and report the size of its log.

    PYTHONPATH=. flock /tmp/tillsynsrisk-heavy.lock nice -n 10 \
        .venv/bin/python bench/bench_idle_connections.py

(``PYTHONPATH=.``: the snapshot comes from the tests' ``scores_factory``.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from api.security import ApiKeyStore
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.scores_factory import make_scores, write_published


def _prepared_home(home: Path) -> str:
    settings = Settings(home=home)
    write_published(ScoreStore(settings.scores_dir), make_scores(units=50))
    keys = ApiKeyStore(settings.api_keys_db)
    try:
        return keys.create("bench", frozenset({"read:candidates"}))[1]
    finally:
        keys.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _open_descriptors(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def _wait_ready(port: int, server: subprocess.Popen[bytes], limit: float = 120) -> None:
    started = time.monotonic()
    with httpx.Client(timeout=1) as probe:
        while time.monotonic() - started < limit:
            if server.poll() is not None:
                raise SystemExit("serve exited before it was ready")
            try:
                if probe.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
    raise SystemExit("serve was not ready in time")


def measure(connections: int, seconds: float, interval: float) -> dict[str, Any]:
    """Open ``connections`` idle connections, then probe with keyed requests; returns the figures."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        home = Path(directory)
        key = _prepared_home(home)
        port = _free_port()
        log = home / "serve.log"
        output = stack.enter_context(log.open("wb"))
        server = subprocess.Popen(
            [sys.executable, "-c", "from cli import app; app()", "serve", "--port", str(port)],
            env={**os.environ, "TILLSYNSRISK_HOME": str(home)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop, server)
        _wait_ready(port, server)
        opened = 0
        open_started = time.monotonic()
        with ExitStack() as idle:
            for _ in range(connections):
                try:
                    idle.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    break
                opened += 1
            open_seconds = time.monotonic() - open_started
            probes = []
            started = time.monotonic()
            url = f"http://127.0.0.1:{port}/v1/risk-areas"
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
                while time.monotonic() - started < seconds:
                    sent = time.monotonic()
                    try:
                        status: int | str = client.get(url, headers=headers).status_code
                    except httpx.TransportError as error:
                        status = type(error).__name__
                    probes.append(
                        {
                            "at_s": round(sent - started, 2),
                            "status": status,
                            "latency_ms": round((time.monotonic() - sent) * 1000, 1),
                            "server_descriptors": _open_descriptors(server.pid),
                        }
                    )
                    time.sleep(max(0.0, interval - (time.monotonic() - sent)))
        _stop(server)
        text = log.read_text(errors="replace")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return {
        "connections_opened": opened,
        "seconds_to_open": round(open_seconds, 1),
        "probes": probes,
        "log_bytes": len(text.encode()),
        "log_lines": text.count("\n"),
        "log_tracebacks": text.count("Traceback"),
        "log_accept_errors": text.count("socket.accept() out of system resource"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=19_000)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--interval", type=float, default=1.0)
    arguments = parser.parse_args()
    # A SIGTERM (e.g. from `timeout`) unwinds, so that the server subprocess is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    print(json.dumps(measure(arguments.connections, arguments.seconds, arguments.interval), indent=1))


if __name__ == "__main__":
    main()

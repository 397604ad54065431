"""Latency of the API's top-50 candidates endpoint at 50 concurrent clients, on a national-scale snapshot.

Target (issue 15): p99 under 50 ms at 50 concurrent clients on a snapshot of 20,000 units. A bare
Starlette endpoint returning the same bytes is measured in the same run, for information only (the
earlier throughput target of ≥ 0.5× bare Starlette was withdrawn by issue 15).

Method (loopback 127.0.0.1 only; bounded in requests and time):

1. Write a scoring snapshot of ``--units`` units × 5 risk areas + overall (3 explanations per row) into a
   temporary home, create an API key, and start ``tillsynsrisk serve`` (uvicorn, one worker, the same
   ``create_app`` factory) in a subprocess.
2. Fetch ``/v1/candidates?risk_area=tillganglighet&limit=50`` once and start a bare Starlette app (same
   uvicorn settings) in a second subprocess that returns exactly that body as static JSON.
3. For each of ``--runs`` rounds, alternately load both servers with ``--concurrency`` clients on one
   keep-alive connection each: ``--warmup`` requests, then ``--requests`` timed requests (or
   ``--max-seconds``, whichever comes first). The load generator runs in this process, apart from both
   servers; by default it is a minimal HTTP/1.1 client (a pre-built request, the response read by its
   Content-Length) that costs a fraction of aiohttp's CPU per request (``--client aiohttp`` to compare),
   so on a small machine it takes less of the CPU the servers need.
4. Report per round requests/s, p50/p95/p99 latency, the server's CPU time per request (from /proc, all its
   threads) and the share of a core used by the server and by the client — a client near 100 % would
   mean the load generator, not the server, limits the figures. Then the medians over rounds and, for
   information, the latency and throughput ratios API/bare and the CPU-per-request ratio bare/API.
5. Stop the API with SIGTERM (a clean shutdown) and count its audit-log rows with status 200 (or 304)
   against the requests it answered: the batched audit writer must not lose any.

Every API answer carries a strong ETag (a SHA-256 of the body, api/conditional.py). ``--revalidate``
makes the API rounds send ``If-None-Match`` with the page's ETag, as a polling client does while
nothing changes: the API then answers 304 without a body (the bare app still sends its 200).

The API side does everything a real request does: bearer-key check, scope dependency, a CURRENT poll,
query validation, paging over the pre-rendered candidates, and an audit-log entry.

    flock /tmp/tillsynsrisk-heavy.lock nice -n 10 .venv/bin/python bench/bench_api.py [--revalidate]
    # defaults: 20,000 units, 50 clients, 5 runs × 3000 requests
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

HOST = "127.0.0.1"
METRICS = (
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "server_cpu_us_per_request",
    "server_cpu_share",
    "client_cpu_share",
)
TOP50 = "/v1/candidates?risk_area=tillganglighet&limit=50"
AREAS = ("personcentrering", "tillganglighet", "samverkan", "kontinuitet", "systematiskt_kvalitetsarbete")
BARE_APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = open(sys.argv[1], "rb").read()
async def top50(request):
    return Response(BODY, media_type="application/json")
app = Starlette(routes=[Route("/v1/candidates", top50)])
if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=False, log_level="warning")
"""


def _scores_frame(units: int, seed: int) -> pl.DataFrame:
    from engine.identifiers import organisation_number
    from engine.scores import EXPLANATION_DTYPE, OVERALL, ranked_scores

    rng = np.random.default_rng(seed)
    regions = ["01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20"]
    rows: list[dict[str, Any]] = []
    for index in range(units):
        region = regions[index % len(regions)]
        provider = index % 150
        p_areas = 1 / (1 + np.exp(-rng.normal(-1.0, 1.0, size=len(AREAS))))
        base = {
            "unit_id": f"SE2321000016-vc{index:05d}",
            "unit_name": f"Vårdcentralen {index}",
            "provider_id": organisation_number(f"55{provider:07d}"),
            "provider_name": f"Vårdgivare {provider} AB",
            "region_code": region,
            "municipality_code": f"{region}80",
            "unit_type": "vardcentral",
            "ownership": "public" if provider < 16 else "private",
            "listed_patients": int(rng.integers(1500, 25000)),
            "as_of": dt.date(2025, 6, 1),
        }
        for area, p in zip((*AREAS, OVERALL), (*p_areas, float(p_areas.mean())), strict=True):
            explanations = [
                {
                    "feature": f"{area}_feature_{k}",
                    "sentence_sv": f"Klagomål om {area} senaste 12 mån: {k + 1},5 per 10 000 "
                    "(regionens median 1,2)",
                    "contribution": float(rng.normal(0, 0.3)),
                    "value": float(k + 1.5),
                }
                for k in range(3)
            ]
            rows.append(
                base
                | {
                    "risk_area": area,
                    "p_deficiency": float(p),
                    "p_serious": float(p) / 6,
                    "explanations": explanations,
                }
            )
    frame = pl.DataFrame(rows, schema_overrides={"explanations": pl.List(EXPLANATION_DTYPE)})
    return ranked_scores(frame.lazy()).collect()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_until_up(port: int, path: str, headers: dict[str, str], timeout: float = 300.0) -> bytes:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://{HOST}:{port}{path}", headers=headers, timeout=2.0)
            if response.status_code == 200:
                return response.content
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer {path} within {timeout} s")


async def _load_raw(
    port: int, request: bytes, concurrency: int, count: int, max_seconds: float, *, expected: bytes = b"200"
) -> list[float]:
    """``count`` GETs over ``concurrency`` keep-alive connections with a minimal HTTP/1.1 client.

    Sends the same pre-built request and reads the response by its Content-Length: a fraction of a
    general client's CPU per request, so the load generator takes less of the CPU the servers need.
    """
    latencies: list[float] = []
    remaining = count
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12]
                length = 0 if status == b"304" else _content_length(head)
                await reader.readexactly(length)
                if status != expected:
                    raise RuntimeError(f"port {port} answered {head[:40]!r}")
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _etag(port: int, path: str, headers: dict[str, str]) -> str:
    import httpx

    response = httpx.get(f"http://{HOST}:{port}{path}", headers=headers, timeout=5.0)
    response.raise_for_status()
    return response.headers["etag"]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError(f"response without Content-Length: {head[:200]!r}")


async def _load_aiohttp(
    url: str, headers: dict[str, str], concurrency: int, count: int, max_seconds: float
) -> list[float]:
    import aiohttp

    latencies: list[float] = []
    remaining = count
    deadline = time.perf_counter() + max_seconds

    async def worker(session: Any) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            start = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return latencies


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) from /proc (Linux), else NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    port: int, server_pid: int, headers: dict[str, str], args: argparse.Namespace, expected: bytes = b"200"
) -> dict[str, float]:
    """One timed round against one server: throughput, latency percentiles and CPU per request."""
    url = f"http://{HOST}:{port}{TOP50}"
    request = (
        f"GET {TOP50} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    ).encode("latin-1")

    def load(count: int) -> list[float]:
        if args.client == "aiohttp":
            return asyncio.run(_load_aiohttp(url, headers, args.concurrency, count, args.max_seconds))
        return asyncio.run(
            _load_raw(port, request, args.concurrency, count, args.max_seconds, expected=expected)
        )

    warmup = len(load(args.warmup))
    server_cpu, client_cpu = _cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    latencies = load(args.requests)
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = _cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "warmup_requests": warmup,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "server_cpu_us_per_request": server_cpu / len(latencies) * 1e6,
        "server_cpu_share": server_cpu / elapsed,
        "client_cpu_share": client_cpu / elapsed,
    }


def _audited_successes(path: Path) -> int:
    """Rows with status 200 or 304 in the audit log (read after the server has shut down)."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        query = "SELECT count(*) FROM audit_log WHERE status IN (200, 304)"
        return int(connection.execute(query).fetchone()[0])


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=20_000, help="Units in the snapshot (national: 20,000).")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=20.0, help="Time limit per timed round.")
    parser.add_argument(
        "--client",
        choices=("raw", "aiohttp"),
        default="raw",
        help="Load generator: a minimal keep-alive HTTP/1.1 client (default) or aiohttp.",
    )
    parser.add_argument(
        "--revalidate",
        action="store_true",
        help="API rounds send If-None-Match with the page's ETag (answered 304, no body).",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        _run(home, args)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(home: Path, args: argparse.Namespace) -> None:
    from api.security import SCOPES, ApiKeyStore
    from engine.scores import ScoreStore

    store = ScoreStore(home / "scores")
    meta = store.write(
        _scores_frame(args.units, seed=1),
        model_name="tillsynsrisk",
        model_version="bench",
        feature_set_id="bench",
        snapshot_id="bench",
        config_hash="bench",
    )
    store.publish(meta.score_id)
    keys = ApiKeyStore(home / "api_keys.sqlite3")
    _, key = keys.create("bench", frozenset(SCOPES))
    keys.close()
    headers = {"Authorization": f"Bearer {key}"}
    env = os.environ | {"TILLSYNSRISK_HOME": str(home)}
    api_port, bare_port = _free_port(), _free_port()
    cli = str(Path(sys.executable).with_name("tillsynsrisk"))
    api = _start([cli, "serve", "--host", HOST, "--port", str(api_port)], env)
    bare = None
    try:
        body = _wait_until_up(api_port, TOP50, headers)
        body_file = home / "top50.json"
        body_file.write_bytes(body)
        bare_script = home / "bare_app.py"
        bare_script.write_text(BARE_APP, encoding="utf-8")
        bare = _start([sys.executable, str(bare_script), str(body_file), str(bare_port)], env)
        _wait_until_up(bare_port, TOP50, {})
        api_headers, api_status = headers, b"200"
        if args.revalidate:
            tag = _etag(api_port, TOP50, headers)
            api_headers, api_status = headers | {"If-None-Match": tag}, b"304"
        results: dict[str, list[dict[str, float]]] = {"bare": [], "api": []}
        for run in range(args.runs):
            for name, server, auth in (("bare", bare, {}), ("api", api, api_headers)):
                port, expected = (bare_port, b"200") if name == "bare" else (api_port, api_status)
                result = _measure(port, server.pid, auth, args, expected)
                results[name].append(result)
                print(
                    f"run {run + 1} {name:4s}: {result['requests']:5.0f} req, {result['rps']:7.0f} req/s, "
                    f"p50 {result['p50_ms']:5.1f} ms, p95 {result['p95_ms']:5.1f} ms, "
                    f"p99 {result['p99_ms']:5.1f} ms, server CPU "
                    f"{result['server_cpu_us_per_request']:4.0f} µs/req ({result['server_cpu_share']:.0%} "
                    f"of a core), client {result['client_cpu_share']:.0%}, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        _stop(api)
        if bare is not None:
            _stop(bare)
    medians = {
        name: {metric: statistics.median(run[metric] for run in runs) for metric in METRICS}
        for name, runs in results.items()
    }
    ratio = medians["api"]["rps"] / medians["bare"]["rps"]
    p99_ratio = medians["api"]["p99_ms"] / medians["bare"]["p99_ms"]
    cpu_ratio = medians["bare"]["server_cpu_us_per_request"] / medians["api"]["server_cpu_us_per_request"]
    # The first page fetched while waiting for the server (and the ETag fetch with --revalidate).
    answered = 1 + args.revalidate + sum(run["requests"] + run["warmup_requests"] for run in results["api"])
    audited = _audited_successes(home / "audit.sqlite3")
    print(
        f"audit log after a clean shutdown (SIGTERM): {audited} rows with status 200 or 304 "
        f"for {answered} answered requests"
    )
    summary = {
        "endpoint": TOP50,
        "api_requests_revalidate_with_if_none_match": args.revalidate,
        "body_bytes": len(body),
        "units": args.units,
        "concurrency": args.concurrency,
        "runs": args.runs,
        "requests_per_run": args.requests,
        "client": args.client,
        "client_process": "the bench process (both servers run in their own subprocesses)",
        "cpus": os.cpu_count(),
        "load_average_after": os.getloadavg(),
        "medians": medians,
        "for_information": {
            "throughput_ratio_api_to_bare": ratio,
            "p99_ratio_api_to_bare": p99_ratio,
        },
        "server_cpu_ratio_bare_to_api_for_information": cpu_ratio,
        "audit_rows_after_shutdown": {
            "status_200_or_304_rows": audited,
            "answered_requests": answered,
            "complete": audited == answered,
        },
        "targets": {"api_p99_under_50ms_at_50_clients": medians["api"]["p99_ms"] < 50},
    }
    print(json.dumps(summary, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(summary | {"runs_detail": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Latency of the planners' web pages on a national-scale home (default 20,000 units × 6 years).

Method (loopback 127.0.0.1 only; bounded in requests):

1. In a temporary home: ``tillsynsrisk generate --units N --years Y --format parquet`` and ``ingest`` (the
   indicator, complaint, lex Maria and inspection history the unit page reads), a published scoring
   snapshot of every unit × 5 risk areas + overall with reasons (random probabilities; the pages do not
   care how they were computed) and an earlier one a quarter before (what Översikt compares with), an
   MLflow run with the evaluation artifacts the Modell page reads (computed by ``models.evaluation``
   from a random prediction frame), and a key with every scope.
2. Start ``tillsynsrisk serve`` (uvicorn, one worker, the same ``create_app``) in a subprocess, sign in
   through the form and keep the session cookie, as a browser does.
3. The first request to each page family is timed on its own, one family after the other right after
   sign-in (``cold``: it may wait for the per-snapshot caches — area frames, the unit history index,
   the model facts — that sign-in starts building in the background). Then, ``--runs`` times, each
   page is requested ``--requests`` times one after another (one client; what a planner waits for),
   cycling over different units, providers, filters, sort orders and pages; p50 and p95 per run, their
   medians over the runs and the maximum are reported, and the server's peak memory.
4. The server is stopped with SIGTERM.

Run under the heavy-job lock (COMMON.md)::

    flock /tmp/tillsynsrisk-heavy.lock nice -n 10 .venv/bin/python bench/bench_pages.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers that build a home (tests/web_support.py)
HOST = "127.0.0.1"
CLI = str(ROOT / ".venv" / "bin" / "tillsynsrisk")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([CLI, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def prepare(root: Path, units: int, years: int) -> tuple[dict[str, str], str, list[str], list[str]]:
    """Build the home; returns the server environment, a key, unit ids and provider ids."""
    from engine.scores import OVERALL, ScoreStore
    from engine.settings import Settings
    from engine.snapshots import SnapshotStore
    from tests.web_support import log_evaluation_run, scores_for_snapshot

    tracking_uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    env = os.environ | {
        "TILLSYNSRISK_HOME": str(root / "home"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "TILLSYNSRISK_MLFLOW_ARTIFACT_ROOT": str(root / "mlruns" / "artifacts"),
    }
    world = root / "world"
    seconds = _run(["generate", "--seed", "1", "--units", str(units), "--years", str(years), "--end",
                    "2025-12", "--format", "parquet", "--out", str(world)], env)  # fmt: skip
    print(f"generate: {seconds:.1f} s")
    seconds = _run(["ingest", str(world), "--reference-date", "2026-01-15"], env)
    print(f"ingest: {seconds:.1f} s")
    settings = Settings(
        home=root / "home",
        mlflow_tracking_uri=tracking_uri,
        mlflow_artifact_root=root / "mlruns" / "artifacts",
    )
    config = settings.load_config()
    fast = config.model_copy(update={"model": config.model.model_copy(update={"bootstrap_resamples": 50})})
    run_id = log_evaluation_run(settings, fast)
    started = time.perf_counter()
    store = ScoreStore(settings.scores_dir)
    # An earlier scoring (other draws, a quarter before): what Översikt compares the current one with.
    store.write(
        scores_for_snapshot(settings, config, seed=1, as_of=dt.date(2025, 10, 1)),
        model_name="tillsynsrisk",
        model_version="1",
        run_id=run_id,
        feature_set_id="fs-bench",
        snapshot_id=SnapshotStore(settings.snapshots_dir).current_id() or "",
        config_hash=config.content_hash(),
    )
    frame = scores_for_snapshot(settings, config)
    meta = store.write(
        frame,
        model_name="tillsynsrisk",
        model_version="1",
        run_id=run_id,
        feature_set_id="fs-bench",
        snapshot_id=SnapshotStore(settings.snapshots_dir).current_id() or "",
        config_hash=config.content_hash(),
    )
    store.publish(meta.score_id)
    print(f"scores: {meta.rows:,} rows in {time.perf_counter() - started:.1f} s")
    from api.security import SCOPES, ApiKeyStore

    keys = ApiKeyStore(settings.api_keys_db)
    _, key = keys.create("bench", frozenset(SCOPES))
    keys.close()
    overall = frame.filter(frame["risk_area"] == OVERALL).sort("rank")
    return (
        env,
        key,
        overall["unit_id"].to_list(),
        overall["provider_id"].unique(maintain_order=True).to_list(),
    )


def signed_in_client(base: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
    form = client.get("/logga-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post("/logga-in", data={"api_key": key, "csrf_token": token, "next": "/"})
    response.raise_for_status()
    return client


def timed(client: httpx.Client, method: str, path: str, data: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    response = client.request(method, path, data=data)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def page_requests(
    units: list[str], providers: list[str], count: int, csrf: str, plan_id: str
) -> dict[str, list[tuple]]:
    """Per page family, ``count`` requests over different units, providers, filters and pages."""
    regions = ["01", "12", "14", "03", "25"]
    areas = ["overall", "tillganglighet", "kontinuitet", "samverkan"]
    sorts = ["rang", "enhet", "vardgivare", "region"]
    plan = {
        "capacity": "20", "per_region": "3", "max_per_provider": "2", "exploration": "15",
        "cooldown_months": "12", "design": "top", "floor": "0", "csrf_token": csrf,
    }  # fmt: skip
    return {
        "Översikt /": [("GET", "/", None)] * count,
        "Kandidater, första sidan": [
            ("GET", f"/kandidater?risk_area={areas[i % 4]}", None) for i in range(count)
        ],
        "Kandidater, filter + sortering": [
            (
                "GET",
                f"/kandidater?risk_area={areas[i % 4]}&region={regions[i % 5]}&ownership="
                f"{'private' if i % 2 else 'public'}&sort={sorts[i % 4]}&order=desc",
                None,
            )
            for i in range(count)
        ],
        "Kandidater, sida 100": [
            ("GET", f"/kandidater?page={100 + i}&sort={sorts[i % 4]}", None) for i in range(count)
        ],
        "Kandidater, karenstid visas": [
            ("GET", f"/kandidater?risk_area={areas[i % 4]}&cooldown=show&page={1 + i % 5}", None)
            for i in range(count)
        ],
        "Kandidater, CSV av en region": [
            ("GET", f"/kandidater.csv?risk_area={areas[i % 4]}&region={regions[i % 5]}", None)
            for i in range(count)
        ],
        "Ordlista": [("GET", "/ordlista", None)] * count,
        "Enhet": [("GET", f"/enheter/{units[(i * 397) % len(units)]}", None) for i in range(count)],
        "Vårdgivare": [("GET", f"/vardgivare/{providers[i % len(providers)]}", None) for i in range(count)],
        "Planera (formulär + sparade)": [("GET", "/planera", None)] * count,
        "Planera, förhandsgranskning": [
            ("POST", "/planera/forhandsgranska", plan | {"risk_area": areas[i % 4], "seed": str(i)})
            for i in range(count)
        ],
        "Planera, förhandsgranskn., region": [
            (
                "POST",
                "/planera/forhandsgranska",
                plan
                | {"risk_area": areas[i % 4], "seed": str(i), "regions": regions[i % 5], "per_region": ""},
            )
            for i in range(count)
        ],
        "Plan (sparad)": [("GET", f"/planer/{plan_id}", None)] * count,
        "Plan, plan.csv": [("GET", f"/planer/{plan_id}/plan.csv", None)] * count,
        "Modell": [("GET", "/modell", None)] * count,
    }


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page family and run")
    parser.add_argument("--runs", type=int, default=3, help="rounds over every page family")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as directory:
        root = Path(directory)
        env, key, units, providers = prepare(root, args.units, args.years)
        port = _free_port()
        server = subprocess.Popen(
            [CLI, "serve", "--host", HOST, "--port", str(port)], env=env, stdout=subprocess.DEVNULL
        )
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become ready")
                time.sleep(0.2)
            client = signed_in_client(base, key)
            planera = client.get("/planera").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', planera).group(1)  # type: ignore[union-attr]
            saved = client.post(
                "/planera/spara",
                data={"csrf_token": csrf, "risk_area": "overall", "capacity": "150", "per_region": "",
                      "max_per_provider": "", "exploration": "15", "cooldown_months": "12", "design": "top",
                      "floor": "0", "seed": "1", "name": "Riksplan", "purpose": "Mätning"},
            )  # fmt: skip
            plan_id = re.search(r"/planer/(plan-[0-9a-f]{16})", str(saved.url)).group(1)  # type: ignore[union-attr]
            families = page_requests(units, providers, args.requests, csrf, plan_id)
            # The first request of each page, one after another right after sign-in: it may wait for the
            # per-snapshot caches (the sign-in starts building them in the background).
            cold = {name: timed(client, *requests[0]) for name, requests in families.items()}
            per_run: dict[str, list[list[float]]] = {name: [] for name in families}
            for _ in range(args.runs):
                for name, requests in families.items():
                    per_run[name].append([timed(client, m, p, d) for m, p, d in requests])
            print(
                f"\n{args.units:,} units × {args.years} years; "
                f"{args.runs} runs × {args.requests} requests per page"
            )
            print(f"{'page':34} {'cold ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   p95 per run")
            worst = 0.0
            for name in families:
                p50 = statistics.median(statistics.median(times) for times in per_run[name])
                p95s = [percentile(times, 0.95) for times in per_run[name]]
                p95 = statistics.median(p95s)
                worst = max(worst, p95)
                peak = max(max(times) for times in per_run[name])
                runs_text = " ".join(f"{value:.0f}" for value in p95s)
                print(f"{name:34} {cold[name]:9.0f} {p50:8.1f} {p95:8.1f} {peak:8.1f}   {runs_text}")
            print(f"\nworst median p95 over the pages: {worst:.1f} ms (target < 200 ms)")
            print(f"server peak memory (VmHWM): {_peak_rss_mb(server.pid):,.0f} MB")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()

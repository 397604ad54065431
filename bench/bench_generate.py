"""Benchmark ``tillsynsrisk generate``: wall time, peak memory and throughput of the synthetic world.

Each measurement runs in a fresh subprocess (so imports are excluded from the timed part and the peak
RSS is that process's own, read with ``os.wait4``). Inside the child the world is generated
(``generate_world``) and written Swedish-style (``write_world``); as a baseline in the same run the same
frames are written with plain ``DataFrame.write_csv`` (no BOM, no decimal comma, default formats).
Reported: median of ``--repeats`` runs (≥ 3) for generate, write and baseline, rows/s and the ratio of
generate + write to the plain-write baseline.

    .venv/bin/python bench/bench_generate.py                      # default and national scale
    .venv/bin/python bench/bench_generate.py --scales default --repeats 5
    .venv/bin/python bench/bench_generate.py --scales national --scenarios default,realistic,weak,shifted

``--scenarios`` (comma-separated, default ``default``) repeats every scale for each named scenario
(``synthetic.scenarios``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SCALES = {"default": (1200, 6), "national": (20_000, 10)}

_CHILD = """
import json, shutil, sys, tempfile, time
from pathlib import Path
from engine.config import load_config
from synthetic import generate_world
from synthetic.scenarios import scenario_params
from synthetic.writer import write_world
units, years, seed, scenario = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
config = load_config()
started = time.perf_counter()
world = generate_world(scenario_params(scenario, seed=seed, n_units=units, years=years), config)
generated = time.perf_counter()
out = Path(tempfile.mkdtemp(prefix="bench-world-"))
try:
    write_world(world, out / "swedish", "csv")
    written = time.perf_counter()
    (out / "plain").mkdir()
    for name, frame in world.tables.items():
        frame.write_csv(out / "plain" / f"{name}.csv")
    baseline = time.perf_counter()
finally:
    shutil.rmtree(out, ignore_errors=True)
rows = sum(frame.height for frame in world.tables.values())
truth_rows = sum(frame.height for frame in world.truth.values())
print(json.dumps({"generate_s": generated - started, "write_s": written - generated,
                  "baseline_write_s": baseline - written, "rows": rows, "truth_rows": truth_rows}))
"""


def run_once(units: int, years: int, seed: int, scenario: str = "default") -> dict[str, float]:
    """One generate + write in a fresh subprocess; adds its peak RSS (MB)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(units), str(years), str(seed), scenario],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"benchmark child failed with exit code {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports kilobytes
    return result


def summarise(scale: str, runs: list[dict[str, float]], scenario: str = "default") -> dict[str, float | str]:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    generate, write, baseline = median("generate_s"), median("write_s"), median("baseline_write_s")
    return {
        "scale": scale,
        "scenario": scenario,
        "runs": len(runs),
        "rows": runs[0]["rows"],
        "truth_rows": runs[0]["truth_rows"],
        "generate_s": generate,
        "write_s": write,
        "total_s": generate + write,
        "baseline_write_s": baseline,
        "ratio_to_baseline": (generate + write) / baseline,
        "rows_per_s": runs[0]["rows"] / generate,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="default,national", help="comma-separated: default,national")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scale (median; at least 3)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument("--scenarios", default="default", help="comma-separated scenario names")
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error(f"--repeats must be at least 3, got {args.repeats}")
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    unknown = [s for s in scales if s not in SCALES]
    if unknown:
        parser.error(f"unknown scales {unknown}; allowed: {sorted(SCALES)}")
    summaries = []
    for scale in scales:
        units, years = SCALES[scale]
        for scenario in args.scenarios.split(","):
            runs = [run_once(units, years, args.seed, scenario) for _ in range(args.repeats)]
            summaries.append(summarise(scale, runs, scenario))
    print(
        f"# bench_generate — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, tmp {tempfile.gettempdir()}"
    )
    header = ["scale", "scenario", "rows", "generate s", "write s", "plain write s", "ratio"]
    header += ["rows/s", "peak RSS MB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for s in summaries:
        units, years = SCALES[str(s["scale"])]
        print(
            f"| {s['scale']} ({units:,} units × {years} y) | {s['scenario']} | {int(s['rows']):,} "
            f"| {s['generate_s']:.2f} | {s['write_s']:.2f} | {s['baseline_write_s']:.2f} "
            f"| {s['ratio_to_baseline']:.1f} | {s['rows_per_s']:,.0f} | {s['peak_rss_mb']:,.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

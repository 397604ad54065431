"""Where a job's wall time goes: the children of one function in a py-spy profile, main thread apart.

Usage::

    py-spy record -r 20 --threads --idle -f raw -o PROFILE.raw -- .venv/bin/python bench/bench_train.py ...
    .venv/bin/python bench/profile_wall.py PROFILE.raw run_training [--rate 20] [--top 15]

With ``--idle`` every thread is sampled whether it runs or waits, so the main thread's samples under a
function add up to the wall time spent in it (waits included), and its children split that time. The other
threads' samples are thread-seconds of worker threads (LightGBM's, joblib's); with ``--idle`` a waiting
one (a pool's task handler) counts as much as a working one, so read them by leaf frame (``sag_solver``
works, ``select`` waits). py-spy is not a project dependency.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

FRAME = re.compile(r" \((?:.*?/)?([^/]*?):\d+\)")


Seconds = collections.defaultdict[str, float]


def children(profile: Path, target: str, rate: float) -> tuple[Seconds, Seconds]:
    """Seconds per direct child of ``target`` on the main thread, and per leaf frame on the other threads."""
    main: Seconds = collections.defaultdict(float)
    other: Seconds = collections.defaultdict(float)
    for line in profile.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        names = [FRAME.sub(r" \1", frame) for frame in frames[1:]]
        seconds = int(count) / rate
        if "MainThread" not in frames[0]:
            other[names[-1] if names else "?"] += seconds
            continue
        found = next((i for i, name in enumerate(names) if name.startswith(target + " ")), None)
        if found is not None:
            main[names[found + 1] if found + 1 < len(names) else "(itself)"] += seconds
    return main, other


def _largest(seconds: Seconds, top: int) -> list[tuple[str, float]]:
    return sorted(seconds.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("target", help="a function name as py-spy prints it, e.g. run_training")
    parser.add_argument("--rate", type=float, default=20.0, help="the samples per second py-spy recorded")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    main_thread, other = children(args.profile, args.target, args.rate)
    print(f"{args.target}: {sum(main_thread.values()):.1f} s of the main thread's wall time")
    for name, seconds in _largest(main_thread, args.top):
        print(f"  {seconds:7.1f}  {name}")
    print("other threads, thread-seconds by leaf frame (waiting ones included):")
    for name, seconds in _largest(other, args.top):
        print(f"  {seconds:7.1f}  {name}")


if __name__ == "__main__":
    main()

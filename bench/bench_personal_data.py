"""False-positive rate of the personnummer detector (``engine.personal_data``).

Usage::

    .venv/bin/python bench/bench_personal_data.py                 # generates the seed-42 world
    .venv/bin/python bench/bench_personal_data.py --world DIR     # an existing source directory

Two measurements:

1. Every string value of every CSV file of a synthetic world (``tillsynsrisk generate --seed 42``),
   free-text summaries included, none of which holds a personnummer: every hit is a false positive.
2. Ordinary numbers of each class written the ways Swedish text writes them (phone numbers,
   organisationsnummer of legal persons, dates and date-times, amounts, case numbers, and uniformly
   random 10-digit numbers for reference), ``--samples`` per class from a seeded generator: the share
   flagged as a personnummer.

And the recall on the same run: generated personnummer in the same written forms (must be 100 %).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from engine.identifiers import luhn_check_digit, organisation_number
from engine.personal_data import contains_personal_number, personal_values


def _phone(rng: random.Random) -> str:
    mobile = f"07{rng.choice('02369')}{rng.randrange(10**7):07d}"
    landline = f"0{rng.randrange(10, 99)}{rng.randrange(10**7):07d}"[:10]
    number = rng.choice([mobile, landline])
    return rng.choice(
        [
            number,
            f"{number[:3]}-{number[3:6]} {number[6:8]} {number[8:]}",
            f"{number[:3]}-{number[3:]}",
            f"+46 {number[1:3]} {number[3:6]} {number[6:8]} {number[8:]}",
            f"{number[:4]}-{number[4:7]} {number[7:]}",
            f"{number[:3]} {number[3:6]} {number[6:]}",
        ]
    )


def _organisation_number(rng: random.Random) -> str:
    number = organisation_number(f"{rng.choice('2356789')}{rng.randrange(10)}{rng.randrange(2, 10)}"
                                 f"{rng.randrange(10**6):06d}")  # fmt: skip
    return rng.choice(
        [number, f"{number[:6]}-{number[6:]}", f"SE{number}01", f"SE{number}-vc{rng.randrange(99)}"]
    )


def _date(rng: random.Random) -> str:
    day = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randrange(365 * 36))
    clock = f"{rng.randrange(24):02d}{rng.randrange(60):02d}"
    return rng.choice(
        [
            day.isoformat(),
            f"{day:%Y%m%d}",
            f"{day.isoformat()} {clock[:2]}:{clock[2:]}",
            f"{day:%Y%m%d} {clock}",
            f"{day:%d/%m/%Y}",
            f"{day:%y%m%d}",
            f"{day.isoformat()} – {(day + dt.timedelta(days=rng.randrange(400))).isoformat()}",
        ]
    )


def _amount(rng: random.Random) -> str:
    value = rng.randrange(10 ** rng.randrange(3, 11))
    grouped = f"{value:,}".replace(",", " ")
    return rng.choice([f"{value} kr", f"{grouped} kr", f"{grouped},{rng.randrange(100):02d}", str(value)])


def _case_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randrange(2015, 2026)}-{rng.randrange(10**6):06d}",
            f"IVO {rng.randrange(3, 9)}.{rng.randrange(1, 9)}.{rng.randrange(1, 99)}-"
            f"{rng.randrange(10**5)}/{rng.randrange(2015, 2026)}",
            f"Dnr {rng.randrange(2015, 2026)}/{rng.randrange(10**4):04d}",
        ]
    )  # fmt: skip


def _random_ten_digits(rng: random.Random) -> str:
    return f"{rng.randrange(10**10):010d}"


def _personnummer(rng: random.Random) -> str:
    born = dt.date(1920, 1, 1) + dt.timedelta(days=rng.randrange(365 * 100))
    first_nine = f"{born:%y%m%d}{rng.randrange(1000):03d}"
    ten = first_nine + str(luhn_check_digit(first_nine))
    return rng.choice(
        [ten, f"{ten[:6]}-{ten[6:]}", f"{born:%Y}{ten[2:6]}-{ten[6:]}", f"{ten[:6]} {ten[6:]}",
         f"{ten[:2]} {ten[2:4]} {ten[4:6]}-{ten[6:]}", f"{ten[:6]}\u2013{ten[6:]}"]
    )  # fmt: skip


CLASSES: dict[str, Callable[[random.Random], str]] = {
    "phone numbers": _phone,
    "organisationsnummer (legal persons, HSA-ids)": _organisation_number,
    "dates and date-times": _date,
    "amounts": _amount,
    "case numbers (diarienummer)": _case_number,
    "random 10-digit numbers": _random_ten_digits,
}


def world_text_rates(world: Path) -> tuple[int, int, int, int]:
    """(values scanned, values flagged, free-text values scanned, free-text values flagged)."""
    scanned = flagged = text_scanned = text_flagged = 0
    for path in sorted(world.glob("*.csv")):
        frame = pl.read_csv(path, separator=";", infer_schema=False, encoding="utf8-lossy")
        for column in frame.columns:
            values = frame[column].drop_nulls()
            hits = personal_values(values)
            count = int(values.is_in(list(hits)).sum()) if hits else 0
            scanned += values.len()
            flagged += count
            if column == "summary":
                text_scanned += values.len()
                text_flagged += count
    return scanned, flagged, text_scanned, text_flagged


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world", type=Path, default=None)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        world = args.world
        if world is None:
            world = Path(temp) / "world"
            cli = str(Path(sys.executable).with_name("tillsynsrisk"))
            command = [cli, "generate", "--seed", "42", "--out", str(world)]
            subprocess.run(command, check=True, capture_output=True)
        started = time.perf_counter()
        scanned, flagged, text_scanned, text_flagged = world_text_rates(world)
        print(f"synthetic world {world.name}: {flagged} of {scanned:,} string values flagged "
              f"({flagged / scanned:.4%}); free-text summaries: {text_flagged} of {text_scanned:,} "
              f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    rng = random.Random(args.seed)
    print("| class | samples | flagged | rate |\n|---|---|---|---|")
    for name, make in (*CLASSES.items(), ("personnummer (recall)", _personnummer)):
        hits = sum(contains_personal_number(make(rng)) for _ in range(args.samples))
        print(f"| {name} | {args.samples:,} | {hits:,} | {hits / args.samples:.3%} |")


if __name__ == "__main__":
    main()

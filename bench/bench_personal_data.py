"""False-positive rate of the personnummer detector (``engine.personal_data``).

Usage::

    .venv/bin/python bench/bench_personal_data.py                 # generates the seed-42 world
    .venv/bin/python bench/bench_personal_data.py --world DIR     # an existing source directory

Three measurements:

1. Every string value of every CSV file of a synthetic world (``tillsynsrisk generate --seed 42``),
   free-text summaries included, none of which holds a personnummer: every hit is a false positive.
2. Ordinary numbers of each class written the ways Swedish text writes them (phone numbers,
   organisationsnummer of legal persons, dates and date-times, amounts, case numbers, and uniformly
   random 10-digit numbers for reference), ``--samples`` per class from a seeded generator: the share
   flagged as a personnummer.
3. Identifiers of this and other systems, ``--identifiers`` of each (default 1,000,000) through the
   ingest's own vectorised scan (``personal_values``, pre-filter included): random version-4 UUIDs,
   random hexadecimal ids (8 to 64 digits, as hashes and keys are written), score ids
   (``20260101-e4312064977c``) and external case numbers ``YY-NNNNNNNN``. The target is 0.

And the recall on the same run: generated personnummer in the usual written forms and in the split,
invisible-character and Unicode-digit forms (both must be 100 %).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
import uuid
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


def _phone_in_pairs(rng: random.Random) -> str:
    """Numbers written in pairs, the shape of the split forms: ``08-12 34 56 78``, ``0701-23 45 67``."""
    subscriber = f"{rng.randrange(10**8):08d}"
    pairs = " ".join(subscriber[index : index + 2] for index in range(0, 8, 2))
    return rng.choice([f"08-{pairs}", f"08 {pairs}", f"07{rng.choice('02369')}{subscriber[0]}-{pairs[3:]}"])


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


_INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2060\u2062\u2066\u2069\u034f\ufe0f\u0301"
_SPLIT_SEPARATORS = [" ", "-", ":", ",", ";", "*", "|", "#", ".", "\u2013", "\u00a0"]
_DIGIT_ZEROS = {"ascii": "0", "fullwidth": "\uff10", "subscript": "\u2080", "circled": None}


def _in_digits(text: str, script: str) -> str:
    if script == "circled":  # circled zero is U+24EA, one to nine U+2460-2468
        return "".join(("\u24ea" if char == "0" else chr(0x245F + int(char))) if char.isdigit() else char
                       for char in text)  # fmt: skip
    zero = ord(str(_DIGIT_ZEROS[script]))
    return "".join(chr(zero + int(char)) if char.isdigit() else char for char in text)


def _personnummer_split_forms(rng: random.Random) -> str:
    born = dt.date(1920, 1, 1) + dt.timedelta(days=rng.randrange(365 * 100))
    first_nine = f"{born:%y%m%d}{rng.randrange(1000):03d}"
    ten = first_nine + str(luhn_check_digit(first_nine))
    twelve = f"{born:%Y}"[:2] + ten
    separator = rng.choice(_SPLIT_SEPARATORS)
    parts = rng.choice(
        [
            [ten[:6], ten[6:8], ten[8:]],  # YYMMDD NN NN
            [ten[:2], ten[2:4], ten[4:6], ten[6:8], ten[8:]],  # YY MM DD NN NN
            [twelve[:4], twelve[4:6], twelve[6:8], twelve[8:]],  # YYYY-MM-DD-NNNN
            [twelve[:4], twelve[4:8], twelve[8:]],  # YYYY MMDD NNNN
            list(rng.choice([ten, twelve])),  # a separator after every digit
            [ten[:6], ten[6:]],  # YYMMDD:NNNN, YYMMDD,NNNN, ...
        ]
    )
    written = separator.join(parts)
    invisible = "".join(char + (rng.choice(_INVISIBLE) if rng.random() < 0.3 else "") for char in written)
    return f"text {_in_digits(invisible, rng.choice(list(_DIGIT_ZEROS)))} text"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex_id(rng: random.Random) -> str:
    length = rng.choice([8, 12, 16, 32, 40, 64])
    return f"{rng.getrandbits(4 * length):0{length}x}"


def _score_id(rng: random.Random) -> str:
    day = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(365 * 10))
    return f"{day:%Y%m%d}-{rng.getrandbits(48):012x}"


def _external_case_number(rng: random.Random) -> str:
    return f"{rng.randrange(100):02d}-{rng.randrange(10**8):08d}"


IDENTIFIERS: dict[str, Callable[[random.Random], str]] = {
    "UUIDs (version 4)": _uuid,
    "hexadecimal ids (8-64 digits)": _hex_id,
    "score ids": _score_id,
    "external case numbers YY-NNNNNNNN": _external_case_number,
}

CLASSES: dict[str, Callable[[random.Random], str]] = {
    "phone numbers": _phone,
    "organisationsnummer (legal persons, HSA-ids)": _organisation_number,
    "dates and date-times": _date,
    "amounts": _amount,
    "case numbers (diarienummer)": _case_number,
    "random 10-digit numbers": _random_ten_digits,
    "phone numbers in pairs (08-12 34 56 78)": _phone_in_pairs,
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
    parser.add_argument("--identifiers", type=int, default=1_000_000)
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
    recall = [
        ("personnummer (recall)", _personnummer),
        ("personnummer, split forms (recall)", _personnummer_split_forms),
    ]
    for name, make in (*CLASSES.items(), *recall):
        hits = sum(contains_personal_number(make(rng)) for _ in range(args.samples))
        print(f"| {name} | {args.samples:,} | {hits:,} | {hits / args.samples:.3%} |")
    print("\n| identifier | samples | flagged | scan |\n|---|---|---|---|")
    for name, make in IDENTIFIERS.items():
        values = pl.Series([make(rng) for _ in range(args.identifiers)])
        started = time.perf_counter()
        hits = len(personal_values(values))
        print(f"| {name} | {values.len():,} | {hits:,} | {time.perf_counter() - started:.1f} s |")


if __name__ == "__main__":
    main()

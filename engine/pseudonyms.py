"""Keyed pseudonyms for identifiers that may legitimately be a personnummer.

A sole trader's (enskild firma) organisationsnummer *is* the owner's personnummer, and the HSA-id of each
of its units starts with it (``SE<organisationsnummer>-<local part>``). Ingest replaces such a
``provider_id`` by a keyed pseudonym, and the number inside such a ``unit_id`` by the same pseudonym,
consistently in every table that references them, so the number is never stored, featurised, scored or
served, and the units still point at their provider. The pseudonym keeps the shape the contract needs (ten
digits with a valid Luhn check digit) but can be neither a personnummer (its month digits are 20–99)
nor a legal person's organisationsnummer (those never start with 4):

    ``4`` + 1 digit + one of ``2``–``9`` + 6 digits + Luhn check digit, from HMAC-SHA256(key, number)

The key lives outside every snapshot (``$TILLSYNSRISK_HOME/keys/pseudonym.key``, mode 0600, created on
first use): the same key gives the same pseudonym in every ingest, so histories join; without the key
a pseudonym cannot be turned back into the number by trying every date and serial.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from engine.identifiers import hsa_id, hsa_organisation_number, luhn_check_digit

KEY_BYTES = 32
PSEUDONYM_PREFIX = "4"


def pseudonym_key(path: Path) -> bytes:
    """The pseudonym key at ``path``, created (random, mode 0600) if there is none yet."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key


def provider_pseudonym(key: bytes, identifier: str) -> str:
    """The keyed pseudonym of ``identifier``: ten digits, Luhn-valid, never a personnummer."""
    digest = hmac.new(key, f"provider_id:{identifier}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    second = number % 10
    third = 2 + (number // 10) % 8
    rest = f"{(number // 80) % 1_000_000:06d}"
    first_nine = f"{PSEUDONYM_PREFIX}{second}{third}{rest}"
    return first_nine + str(luhn_check_digit(first_nine))


def unit_pseudonym(key: bytes, unit_id: str) -> str:
    """The HSA-id ``unit_id`` with its organisationsnummer replaced by :func:`provider_pseudonym`.

    The local part stays: two units of one sole trader stay two units of one (pseudonymised) provider.
    """
    organisation = hsa_organisation_number(unit_id)
    if organisation is None:
        raise ValueError("not an HSA-id of the form SE<organisationsnummer>-<local part>")
    return hsa_id(provider_pseudonym(key, organisation), unit_id[len("SE") + len(organisation) + 1 :])


def is_pseudonym(identifier: str) -> bool:
    """Whether ``identifier`` has the pseudonym shape (a ten-digit number starting with 4)."""
    return len(identifier) == 10 and identifier.isdigit() and identifier.startswith(PSEUDONYM_PREFIX)

"""The newcomer's entry points: ``make demo`` checks its port first; the README states what it makes."""

from __future__ import annotations

import inspect
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from cli import world_cmd

ROOT = Path(__file__).resolve().parents[1]


def _demo_port(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "demo-port", f"PORT={port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_demo_stops_at_once_when_its_port_is_taken() -> None:
    # given a port something already listens on
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        # when make checks the demo's port
        checked = _demo_port(port)
    # then it fails, saying how to choose another port
    assert checked.returncode != 0, f"the check passed on a port in use: {checked.stdout}{checked.stderr}"
    assert f"cannot listen on 127.0.0.1:{port}" in checked.stderr, checked.stderr
    assert "make demo PORT=" in checked.stderr, f"the message must say how to choose a port: {checked.stderr}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_demo_port_check_passes_on_a_free_port() -> None:
    # given a port nothing listens on
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    # when make checks it, then it passes silently
    checked = _demo_port(port)
    assert checked.returncode == 0, f"the check refused a free port: {checked.stderr}"


def test_readme_states_the_unit_count_generate_makes_by_default() -> None:
    # given the README's account of the demo world and generate's default number of units
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    default = inspect.signature(world_cmd.generate).parameters["units"].default
    # then they agree
    stated = re.search(r"synthetic world \(([\d,]+) vårdcentraler", readme)
    assert stated, "the README no longer states the demo world's number of vårdcentraler"
    assert int(stated.group(1).replace(",", "")) == default, (
        f"the README says {stated.group(1)} vårdcentraler; generate makes {default:,} by default"
    )

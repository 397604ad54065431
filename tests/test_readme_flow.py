"""The README's curl flow, run as printed against a live server (only the port differs)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from api.main import create_app
from api.security import SCOPES, ApiKeyStore
from engine.scores import ScoreStore
from engine.settings import Settings
from tests.cli_support import generated_and_ingested
from tests.scores_factory import make_scores, write_published

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK_START = "export TILLSYNSRISK_API_KEY=$(cat var/demo-api-key)"
PRINTED_API = "API=http://127.0.0.1:8000"


def readme_curl_block() -> str:
    """The bash block of the README that starts with the demo key."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"```bash\n(" + re.escape(BLOCK_START) + r".*?)```", text, flags=re.DOTALL)
    assert found, "the README lost its curl flow"
    block = found.group(1)
    assert PRINTED_API in block, f"the README's flow must set {PRINTED_API}"
    return block


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    """A served home like `make demo` leaves it: snapshot, published scores, a key in var/demo-api-key."""
    home = tmp_path / "var"
    monkeypatch.setenv("TILLSYNSRISK_HOME", str(home))
    runner = CliRunner()
    generated_and_ingested(runner, tmp_path / "world", seed=2, units=120, years=3)
    settings = Settings(home=home)
    write_published(ScoreStore(settings.scores_dir), make_scores(units=40))
    keys = ApiKeyStore(settings.api_keys_db)
    (home / "demo-api-key").write_text(keys.create("demo", frozenset(SCOPES))[1] + "\n", encoding="utf-8")
    keys.close()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start within 20 s"
    yield tmp_path, port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_flow_runs_as_printed(demo_server: tuple[Path, int]) -> None:
    # Given the README's block with only the port changed, run from the repository-root layout
    root, port = demo_server
    block = readme_curl_block().replace(PRINTED_API, f"API=http://127.0.0.1:{port}")
    # When it runs under bash with every failure fatal
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then every step succeeds and the planner sees explanations and a stored plan
    assert done.returncode == 0, f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
    assert '"sentence_sv": "Klagomål' in done.stdout, "candidates must carry Swedish explanations"
    assert re.search(r'"plan_id": "plan-[0-9a-f]+"', done.stdout), "the plan must be fetched back"
    problem = re.search(r'"status": [45]\d\d', done.stdout)
    assert problem is None, (
        f"a step returned a problem document: {done.stdout[problem.start() - 300 :][:600]}"
    )

"""The import contract (pyproject.toml, ``[tool.importlinter]``) holds, and would catch an upward import.

Stages, bottom to top: engine < features < models < serving < api | simulation < cli, and the synthetic
world beside them, imported by no stage of the product; inside ``api/web`` the page modules form layers too
(no circle). ``make lint`` runs ``lint-imports`` on the real
tree; these tests show that the contracts are not vacuous: the same check fails on a copy of the tree into
which one forbidden import has been written.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "features", "models", "serving", "api", "synthetic", "simulation", "cli")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _tree_copy(destination: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", destination / "pyproject.toml")
    return destination


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_layers_of_the_real_tree_are_kept(tmp_path: Path) -> None:
    # given a copy of the packages as they are
    root = _tree_copy(tmp_path)
    # when the import contract is checked
    result = _lint_imports(root)
    # then it is kept
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import"),
    [
        ("engine/config.py", "import features.pipeline"),
        ("features/events.py", "import models.metrics"),
        ("models/metrics.py", "import serving.planning"),
        ("serving/planning.py", "import api.schemas"),
        ("api/schemas.py", "import simulation.loop"),
        ("simulation/loop.py", "import cli.common"),
        ("api/schemas.py", "import cli.common"),
        ("models/metrics.py", "import synthetic.numeric"),
        ("synthetic/world.py", "import models.metrics"),
        ("api/web/state.py", "import api.web.pages"),
        ("api/web/views.py", "import api.web.planning"),
    ],
    ids=[
        "engine->features",
        "features->models",
        "models->serving",
        "serving->api",
        "api->simulation",
        "simulation->cli",
        "api->cli",
        "product->synthetic",
        "synthetic->models",
        "web state->pages",
        "web views->planning",
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, upward_import: str) -> None:
    # given a copy of the tree where a lower layer imports a higher one
    root = _tree_copy(tmp_path)
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{upward_import}  # noqa\n", encoding="utf-8")
    # when the import contract is checked
    result = _lint_imports(root)
    # then it is broken, and the report names the offending import
    assert result.returncode != 0, f"an upward import in {module} was not caught:\n{result.stdout}"
    assert "BROKEN" in result.stdout
    assert upward_import.split()[1].split(".", maxsplit=1)[0] in result.stdout

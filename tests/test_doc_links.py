"""The documentation holds together: every relative link resolves, and no page speaks of issue numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# [text](target) or [text](target "title"); images too. The target stops at whitespace or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = ("http://", "https://", "mailto:", "#")
ISSUE_NUMBER = re.compile(r"\bissue\s+\d", re.IGNORECASE)


def documentation_pages() -> list[Path]:
    """The README and every Markdown page under docs/ (results included)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where a bracket is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def relative_links(page: Path) -> list[str]:
    """The relative link targets of ``page``, without their ``#anchor``."""
    targets = LINK.findall(prose(page.read_text(encoding="utf-8")))
    return [t.split("#", 1)[0] for t in targets if not t.startswith(EXTERNAL) and t.split("#", 1)[0]]


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file or directory does not exist."""
    return [t for t in relative_links(page) if not (page.parent / t).exists()]


def test_the_link_finder_sees_relative_links_and_skips_code_and_urls(tmp_path: Path) -> None:
    # given a page with a relative link, an anchor, a URL and links inside code
    page = tmp_path / "page.md"
    page.write_text(
        "See [the models](models.md#commands) and [the web](https://example.org).\n"
        "`[not](inline.md)`\n```\n[not](fenced.md)\n```\n[top](#top)\n",
        encoding="utf-8",
    )
    # when its relative links are listed
    links = relative_links(page)
    # then only the prose link to a file is there, without its anchor
    assert links == ["models.md"], f"expected only models.md, found {links}"
    assert broken_links(page) == ["models.md"], "a link to a missing file must count as broken"


@pytest.mark.parametrize("page", documentation_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page: Path) -> None:
    # given a documentation page
    # when its relative links are resolved against its own folder
    broken = broken_links(page)
    # then each one names a file or folder that exists
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


@pytest.mark.parametrize("page", documentation_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_speaks_of_issue_numbers(page: Path) -> None:
    # given a documentation page (docs say what is and why; issue numbers belong in commit messages)
    lines = page.read_text(encoding="utf-8").splitlines()
    # when it is searched for "issue <number>"
    hits = [f"{number}: {line.strip()}" for number, line in enumerate(lines, 1) if ISSUE_NUMBER.search(line)]
    # then there is none
    assert not hits, f"{page.relative_to(ROOT)} names issues: {hits}"


CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)|^={7}$", re.MULTILINE)
SOURCE_SUFFIXES = {".md", ".py", ".j2", ".toml", ".css", ".js", ".cfg", ".txt"}
SKIPPED_DIRECTORIES = {".venv", ".git", "var", "mlruns", "node_modules", ".mypy_cache", ".ruff_cache"}


def project_text_files() -> list[Path]:
    """The project's own text files (docs, code, templates, configuration), without environments and data."""
    return [
        path
        for path in sorted(ROOT.rglob("*"))
        if path.suffix in SOURCE_SUFFIXES
        and path.is_file()
        and not SKIPPED_DIRECTORIES.intersection(path.relative_to(ROOT).parts)
    ]


def test_the_conflict_marker_finder_sees_a_left_over_merge(tmp_path: Path) -> None:
    # Given a page with a merge left half-done and one that only draws a line of equals signs in a sentence
    merged_badly = "text\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n"
    fine = "a table\n| a | b |\n|---|---|\n=== not a marker ===\n"

    # Then the first is caught and the second is not
    assert CONFLICT_MARKER.search(merged_badly)
    assert not CONFLICT_MARKER.search(fine)


def test_no_file_holds_a_left_over_merge_conflict() -> None:
    # Given every doc, module, template and configuration file of the project
    files = project_text_files()
    assert len(files) > 100, f"only {len(files)} files found: the walk is looking in the wrong place"

    # Then none holds a merge's conflict markers (a docs page once kept both sides of a merge)
    marked = [
        str(p.relative_to(ROOT)) for p in files if CONFLICT_MARKER.search(p.read_text(encoding="utf-8"))
    ]
    assert not marked, f"merge conflict markers left in {marked}"

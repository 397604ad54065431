"""A hostile world for the web pages: every text a page shows from the data carries an attack.

Built like ``tests/web_support.py`` (a small generated world, ingested; scores drawn at random for its
units; an evaluation run computed from random predictions; no training), with these changes:

- every unit and provider name in the generated CSVs is rewritten to an HTML or template payload
  (:data:`HTML_PAYLOADS`) before the ingest, so the names reach the pages the way real data does;
- some units' names in the published scores carry bidirectional overrides, isolates and other
  invisible format characters (:data:`FORMAT_PAYLOADS`); they are put into the scores (the pages'
  source of names) rather than the CSVs, so the test does not depend on what the ingest accepts;
- every explanation sentence, the run's lineage and the subgroup names of the evaluation carry payloads.

:func:`injected_markup` reads a page as a browser would (``html.parser``) and lists every element or
attribute that came from data instead of from a template.
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from cli import app as cli_app
from engine.config import Config
from engine.scores import OVERALL
from engine.settings import Settings
from tests.web_support import (
    AS_OF,
    WebHome,
    environment,
    evaluation_predictions,
    log_evaluation_run,
    published_home,
    scores_for_snapshot,
)

# Every payload that would build an element carries the marker ``pwn`` in an attribute (or is a meta
# refresh, or sends the page elsewhere): if a browser ever parses one as markup, the checks find it.
HTML_PAYLOADS = (
    '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/phish">',
    "<img src=x onerror=\"document.title='pwned'\" data-pwn=img>",
    "<svg onload=\"document.title='pwned'\" data-pwn=svg></svg>",
    "<a href=\"javascript:document.title='pwned'\" data-pwn=a>Logga in igen</a>",
    '"><script data-pwn=script>document.title="pwned"</script>',
    "'><b data-pwn=quote>fet</b>",
    "javascript:document.title='pwned'",
    "{{7*7}} {% if true %}mall{% endif %}",
    "</title></textarea><iframe data-pwn=iframe src=http://127.0.0.1:9/></iframe>",
    '<base href="http://127.0.0.1:9/" data-pwn=base>',
    '<form action="http://127.0.0.1:9/" data-pwn=form><button>Skicka</button></form>',
    "<style data-pwn=style>body{display:none}</style>",
)
# Right-to-left override and left-to-right/first-strong isolates, marks, zero-width characters, a
# soft hyphen, a word joiner, an invisible operator, a byte order mark and a tag character.
FORMAT_PAYLOADS = (
    "Vårdcentral \u202eatsäB\u202c",
    "\u2066Hälsan\u2069 \u2067Norr\u2069 \u2068Syd\u2069",
    "Läkar\u200bhuset\u200e \u200fÖst\u200d\u200c",
    "Familje\u00adläkarna\u2060\u2062 \ufeffVäst\U000e0041",
    "\u202aInbäddad\u202c \u202bhöger\u202c \u202dtvingad\u202c",
)
FORMAT_CHARACTERS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\u00ad\u2060\u2062\ufeff\U000e0041"
)
SENTENCE_PAYLOAD = 'Klagomål <img src=x onerror="document.title=1" data-pwn=reason> \u202eokänd'
LINEAGE_PAYLOAD = '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/lineage"><b data-pwn=lineage>'
GROUP_PAYLOAD = "<img src=x onerror=alert(1) data-pwn=group>"
# Query and form values sent by the tests.
QUERY_PAYLOADS = (*HTML_PAYLOADS[:6], "\u202e<b data-pwn=query>x</b>")


def hostile_names(path: Path, offset: int) -> None:
    """Rewrite the ``name`` column of a generated ``;``-separated CSV (UTF-8 with BOM) to payloads."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))
    column = rows[0].index("name")
    for number, row in enumerate(rows[1:]):
        row[column] = f"{HTML_PAYLOADS[(number + offset) % len(HTML_PAYLOADS)]} {number}"
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
    path.write_text("\ufeff" + out.getvalue(), encoding="utf-8")


def hostile_scores(settings: Settings, config: Config) -> pl.DataFrame:
    """Scores for every unit of the ingest snapshot; some names carry format characters, every
    explanation a payload."""
    frame = scores_for_snapshot(settings, config)
    ranked_units = frame.filter(pl.col("risk_area") == OVERALL).sort("rank")["unit_id"].to_list()
    # The best ranked units, so they are on the first candidate page and in every plan.
    renamed = {
        unit_id: f"{FORMAT_PAYLOADS[number % len(FORMAT_PAYLOADS)]} {number}"
        for number, unit_id in enumerate(ranked_units[: 2 * len(FORMAT_PAYLOADS)])
    }
    return frame.with_columns(
        pl.col("unit_id").replace_strict(renamed, default=pl.col("unit_name")).alias("unit_name"),
        pl.col("explanations").list.eval(
            pl.element().struct.with_fields(pl.lit(SENTENCE_PAYLOAD).alias("sentence_sv"))
        ),
    )


def log_hostile_evaluation_run(settings: Settings, config: Config) -> str:
    """An evaluation run (as ``web_support.log_evaluation_run``) whose lineage and groups are payloads."""
    predictions = evaluation_predictions(config).with_columns(
        pl.col("size_band").replace({"small": GROUP_PAYLOAD})
    )
    lineage = {
        "snapshot_id": LINEAGE_PAYLOAD, "feature_set_id": LINEAGE_PAYLOAD, "as_of": AS_OF.isoformat(),
        "folds": [LINEAGE_PAYLOAD, "2024"], "code_version": LINEAGE_PAYLOAD, "layout": LINEAGE_PAYLOAD,
        "seed": LINEAGE_PAYLOAD, "config_hash": config.content_hash(),
    }  # fmt: skip
    return log_evaluation_run(
        settings, config, predictions=predictions, lineage=lineage, run_name="web-hostile"
    )


def hostile_home(root: Path, tracking_uri: str, artifact_root: Path) -> WebHome:
    """Generate → rewrite names → ingest → hostile scores (published) → hostile run → keys."""
    settings = Settings(
        home=root / "home", mlflow_tracking_uri=tracking_uri, mlflow_artifact_root=artifact_root
    )
    world = root / "world"
    runner = CliRunner()
    with environment(TILLSYNSRISK_HOME=str(settings.home), MLFLOW_TRACKING_URI=tracking_uri):
        generated = runner.invoke(
            cli_app, ["generate", "--seed", "11", "--units", "40", "--years", "3", "--out", str(world)]
        )
        assert generated.exit_code == 0, generated.output[-2000:]
        hostile_names(world / "units.csv", 0)
        hostile_names(world / "providers.csv", 5)
        ingested = runner.invoke(cli_app, ["ingest", str(world), "--reference-date", "2026-01-15"])
        assert ingested.exit_code == 0, f"the ingest refused the hostile names: {ingested.output[-2000:]}"
    config = settings.load_config()
    fast = config.model_copy(update={"model": config.model.model_copy(update={"bootstrap_resamples": 50})})
    run_id = log_hostile_evaluation_run(settings, fast)
    return published_home(settings, config, run_id, hostile_scores(settings, config), "fs-web-hostile")


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


# Elements no page template writes: any of them on a page came from data.
FOREIGN_TAGS = frozenset({"img", "iframe", "base", "style", "object", "embed", "b", "frame", "frameset"})
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href")


def injected_markup(html: str, own_tags: frozenset[str] = frozenset()) -> list[str]:
    """The elements and attributes of ``html`` that came from data (empty for a sound page).

    A payload inside an attribute's value is text and fine (a search field shows what was searched for).
    Found: an attribute named with the payloads' marker ``pwn``; any event handler attribute
    (``on…``); a ``<meta http-equiv>``; a script that is not the pages' own file; a URL attribute that is
    a ``javascript:`` URL or points off the site; an element no template writes (``<img>``, ``<iframe>``,
    ``<base>``, ``<style>`` …) unless the page itself writes it (``own_tags``: the HTML report has its
    stylesheet and its plots as ``data:`` images).
    """
    parser = _Elements()
    parser.feed(html)
    parser.close()
    found = []
    for tag, attrs in parser.tags:
        described = f"<{tag} {attrs}>"
        if "pwn" in tag or any("pwn" in name for name in attrs):
            found.append(f"payload element {described}")
        elif any(name.startswith("on") for name in attrs):
            found.append(f"event handler {described}")
        elif tag == "meta" and "http-equiv" in attrs:
            found.append(f"meta refresh {described}")
        elif tag == "script" and attrs.get("src") not in {"/static/app.js"}:
            found.append(f"script {described}")
        elif tag in FOREIGN_TAGS - own_tags:
            found.append(f"foreign element {described}")
        else:
            for name in URL_ATTRIBUTES:
                value = "".join(attrs.get(name, "").split()).lower()
                if tag in own_tags and value.startswith("data:image/png;base64,"):
                    continue
                if value.startswith(("javascript:", "data:", "vbscript:", "//", "http:", "https:")):
                    found.append(f"URL off the site in {name}: {described}")
    return found


def format_characters_in(text: str) -> list[str]:
    """The invisible format characters of :data:`FORMAT_PAYLOADS` found in ``text`` (as code points)."""
    return sorted({f"U+{ord(character):04X}" for character in text if character in FORMAT_CHARACTERS})

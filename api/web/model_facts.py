"""What the served scores rest on, read from the MLflow run named in the scoring snapshot's metadata,
and the evaluation figures put into words a planner understands.

Everything comes from what the training job stored on the run: its start time and parameters, the
artifacts ``lineage.json``, ``evaluation/summary_random.json`` (per area: precision among the top 10 %
with a 95 % bootstrap interval, for the model and every baseline, on randomly selected inspections, and
the verdict with its minimum detectable difference), ``evaluation/summary_weighted.json`` (the same on
every inspection with a known inclusion probability, weighted by 1/π; older runs lack it) and
``evaluation/subgroups.parquet`` (the subgroup audit) and ``family/choice.json`` (the model family each
area is served by, and why). The model version's tags come from the registry.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import polars as pl
from fastapi import Request

from api.web.charts import Bar, interval_bar_chart
from api.web.data import ModelFacts, ScoresView
from api.web.format import percent_sv
from api.web.state import app_state, web_state
from engine.contract import REGIONS

logger = logging.getLogger(__name__)

# MLflow's fluent API (which Tracking.activated() points at a store) is process-global: reads from two
# threads at once could see each other's tracking URI, so every MLflow read of the pages holds this lock.
MLFLOW_LOCK = threading.Lock()
RETRY_SECONDS = 60.0  # a run that could not be read is tried again after this long
# "random" is a way of choosing (10 % drawn by lot), not the inspections the evaluation rests on (those
# were *inspected* at random): two different things, so two different words on the page.
SCORER_SV = {
    "model": "Modellen",
    "oracle": "Facit (den sanna risken; finns bara i den syntetiska världen)",
    "random": "Lottning (10 % valda på måfå)",
    "complaints": "Flest klagomål per listad patient",
    "banding": "Indikatorgränser (antal indikatorer under garantinivå)",
    "logistic": "Enkel logistisk regression",
}
SCORER_SHORT_SV = {
    "model": "Modellen",
    "oracle": "Facit (sann risk)",
    "random": "Lottning",
    "complaints": "Flest klagomål",
    "banding": "Indikatorgränser",
    "logistic": "Logistisk regression",
}
BASELINES = ("random", "complaints", "banding", "logistic")


def load_model_facts(settings: Any, run_id: str | None, model_name: str, model_version: str) -> ModelFacts:
    """Read the run behind the served model (any failure is kept as ``problem``, in Swedish)."""
    if not run_id:
        return ModelFacts(run_id=None, problem="Riskbedömningen anger ingen MLflow-körning.")
    with MLFLOW_LOCK:
        return _read_model_facts(settings, run_id, model_name, model_version)


def _read_model_facts(settings: Any, run_id: str, model_name: str, model_version: str) -> ModelFacts:
    try:
        from models.registry import tracking_for

        tracking = tracking_for(settings)
        info = tracking.run_info(run_id)
        lineage = tracking.read_json(run_id, "lineage.json")
        summary = tracking.read_json(run_id, "evaluation/summary_random.json")
        subgroups = tracking.read_table(run_id, "evaluation/subgroups.parquet")
    except Exception as error:
        logger.warning("model page cannot read run %s: %s", run_id, error)
        return ModelFacts(
            run_id=run_id,
            problem=f"Körningen {run_id} kunde inte läsas från MLflow ({type(error).__name__}).",
        )
    weighted: dict[str, dict[str, Any]] = {}
    try:
        weighted = tracking.read_json(run_id, "evaluation/summary_weighted.json")
    except Exception as error:  # a run from before the weighted population, or without known π
        logger.info("run %s has no weighted evaluation: %s", run_id, error)
    tags: dict[str, str] = {}
    try:
        tags = dict(tracking.client.get_model_version(model_name, model_version).tags)
    except Exception as error:  # a run without a registered version still has its evaluation
        logger.info("no registry tags for %s v%s: %s", model_name, model_version, error)
    families: dict[str, dict[str, Any]] = {}
    try:
        families = dict(tracking.read_json(run_id, "family/choice.json").get("final", {}))
    except Exception as error:  # a run from before the family choice: its areas are LightGBM
        logger.info("run %s has no family choice: %s", run_id, error)
    started = info.get("start_time")
    return ModelFacts(
        run_id=run_id,
        started=dt.datetime.fromtimestamp(started / 1000, dt.UTC) if started else None,
        params=info.get("params", {}),
        lineage=lineage,
        summary=summary,
        summary_weighted=weighted,
        subgroups=subgroups,
        registry_tags=tags,
        families=families,
    )


def model_facts(request: Request, view: ScoresView) -> ModelFacts:
    """The facts of the served snapshot's run, cached per run (failures retried after a minute)."""
    served = app_state(request).holder.served
    assert served is not None
    meta = served.metadata
    cache = web_state(request).model
    settings = app_state(request).settings

    def build() -> ModelFacts:
        return load_model_facts(settings, meta.run_id, meta.model_name, meta.model_version)

    facts = cache.get(meta.run_id, build)
    if facts.problem is not None and time.monotonic() - facts.loaded_at > RETRY_SECONDS:
        facts = cache.get((meta.run_id, time.monotonic()), build)
    return facts


def model_facts_if_ready(request: Request, view: ScoresView) -> ModelFacts | None:
    """The facts if they are already read; otherwise start reading them in the background and return None.

    For pages that only mention the evaluation (the candidate list): they never wait for MLflow.
    """
    served = app_state(request).holder.served
    assert served is not None
    facts = web_state(request).model.peek(served.metadata.run_id)
    if facts is None:
        threading.Thread(target=model_facts, args=(request, view), name="model-facts", daemon=True).start()
    return facts


def _interval(values: list[float] | None) -> str:
    if not values or any(v is None for v in values):
        return ""
    return f"{percent_sv(values[0])}–{percent_sv(values[1])}"


ATTRIBUTE_SV = {"ownership": "Ägarform", "region_code": "Region", "size_band": "Storlek"}
OWNERSHIP_SV = {"public": "offentlig regi", "private": "privat regi"}


def group_in_words(attribute: str, group: str) -> str:
    """A subgroup as a planner reads it: ``Region Skåne`` for ``12``, ``privat regi`` for ``private``."""
    if attribute == "region_code":
        return f"Region {REGIONS[group]}" if group in REGIONS else f"okänd region ({group})"
    if attribute == "ownership":
        return OWNERSHIP_SV.get(group, group)
    return group


def flagged_subgroups(subgroups: pl.DataFrame) -> list[dict[str, Any]]:
    """The subgroup audit's flagged rows, with the attribute and the group in words (never a bare code)."""
    if "precision_flagged" not in subgroups.columns:
        return []
    flagged = subgroups.filter(
        pl.col("precision_flagged") | pl.col("recall_flagged") | pl.col("selection_rate_flagged")
    )
    return [
        row
        | {
            "attribute_sv": ATTRIBUTE_SV.get(row["attribute"], row["attribute"]),
            "group_sv": row.get("group_name") or group_in_words(row["attribute"], str(row["group"])),
        }
        for row in flagged.to_dicts()
    ]


def _bounds(values: list[float] | None) -> tuple[float, float] | None:
    if not values or len(values) != 2 or any(v is None for v in values):
        return None
    return float(values[0]), float(values[1])


def precision_context(facts: ModelFacts | None, area: str, names: dict[str, str]) -> str:
    """One sentence of what a high rank has meant in the evaluation, for the candidate page."""
    if facts is None:
        # The evaluation is still being read (right after sign-in): the list is shown without it, and
        # without asking the planner to reload; the Modell page waits for it.
        return (
            "Hur träffsäker rangordningen har varit i utvärderingen redovisas per riskområde på sidan Modell."
        )
    entry = facts.summary.get(area)
    if entry is None or not entry.get("model"):
        if facts.problem:
            return "Modellens utvärdering kunde inte läsas, så träffsäkerheten kan inte anges här."
        return (
            "Samlad risk är medelvärdet av riskområdenas sannolikheter. "
            "Hur träffsäker rangordningen har varit "
            "redovisas per riskområde på sidan Modell."
        )
    model = entry["model"]
    interval = _interval(model.get("precision_at_10pct_ci"))
    return (
        f"I utvärderingen hade {percent_sv(model.get('precision_at_10pct'))} "
        "av de 10 % högst rankade enheterna "
        f"{'brister' if entry.get('target', 'deficiency') == 'deficiency' else 'allvarliga brister'} "
        f"inom {names.get(area, area).lower()} när de inspekterades slumpvis"
        + (f" (troligen mellan {interval})" if interval else "")
        + f", jämfört med {percent_sv(entry.get('base_rate'))} av alla slumpvis inspekterade enheter."
    )


def area_evaluation(facts: ModelFacts, area: str, name: str) -> dict[str, Any]:
    """The evaluation of one area: rows per scorer and a plain-language verdict."""
    entry = facts.summary[area]
    rows = []
    for scorer in ("model", *BASELINES, "oracle"):
        figures = entry.get(scorer)
        if not figures:
            continue
        rows.append(
            {
                "scorer": scorer,
                "name": SCORER_SV.get(scorer, scorer),
                "precision": figures.get("precision_at_10pct"),
                "interval": _interval(figures.get("precision_at_10pct_ci")),
                "bounds": _bounds(figures.get("precision_at_10pct_ci")),
                "auc": figures.get("roc_auc"),
            }
        )
    model = entry.get("model") or {}
    best_baseline = max(
        (row for row in rows if row["scorer"] in BASELINES and row["precision"] is not None),
        key=lambda row: row["precision"],
        default=None,
    )
    low = (model.get("precision_at_10pct_ci") or [None, None])[0]
    if best_baseline is None or low is None:
        verdict = "Jämförelsen med enklare urval saknas."
    elif low > best_baseline["precision"]:
        verdict = (
            "Modellen hittar tydligt fler brister än det bästa enklare urvalet "
            f"({best_baseline['name'].lower()}): "
            "även den lägsta troliga nivån ligger över."
        )
    elif model.get("precision_at_10pct", 0) > best_baseline["precision"]:
        verdict = (
            f"Modellen hittade fler brister än det bästa enklare urvalet ({best_baseline['name'].lower()}), "
            "men osäkerheten är så stor att skillnaden kan vara slump."
        )
    else:
        verdict = f"Modellen var inte bättre än det bästa enklare urvalet ({best_baseline['name'].lower()})."
    return {
        "area": area,
        "name": name,
        "n": entry.get("n"),
        "base_rate": entry.get("base_rate"),
        "rows": rows,
        "verdict": verdict,
        "detectable": detectable_difference_sv(entry.get("verdict")),
        "weighted": weighted_verdict_sv(facts.summary_weighted.get(area)),
        "ece": model.get("ece"),
        "family": facts.families.get(area),
        "chart": evaluation_chart(name, rows, entry.get("base_rate")),
    }


def detectable_difference_sv(verdict: dict[str, Any] | None) -> str:
    """The verdict's minimum detectable difference in words, or ``""`` where the run has none.

    So that "the uncertainty is too large" is read as "a smaller difference could not have been seen".
    """
    from models.verdicts import percentage_points_sv

    mdd = (verdict or {}).get("mdd")
    if mdd is None:
        return ""
    return (
        f"Underlaget räcker för att upptäcka en skillnad mot det bästa enklare urvalet på minst "
        f"{percentage_points_sv(mdd)} (med 80 % sannolikhet); en mindre skillnad hade inte kunnat ses."
    )


def weighted_verdict_sv(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """The verdict on every inspection with a known inclusion probability, weighted by 1/π, in words."""
    from models.verdicts import BASELINE_SV, RANDOM_SV, verb_sv

    verdict = (entry or {}).get("verdict")
    if not verdict:
        return None
    label = verb_sv(RANDOM_SV[verdict["vs_random"]])
    if verdict.get("vs_baseline"):
        label += f" och {verb_sv(BASELINE_SV[verdict['vs_baseline']])}"
    effective = entry.get("effective_n") if entry else None
    return {
        "n": verdict["n"],
        "effective_n": round(effective) if effective is not None else None,
        "label": label,
        "detectable": detectable_difference_sv(verdict),
    }


def evaluation_chart(name: str, rows: list[dict[str, Any]], base_rate: float | None) -> Any:
    """One area's precision among the top 10 % per way of choosing, with intervals and the base rate."""
    bars = [
        Bar(
            SCORER_SHORT_SV.get(row["scorer"], row["scorer"]),
            row["precision"],
            low=row["bounds"][0] if row["bounds"] else None,
            high=row["bounds"][1] if row["bounds"] else None,
            emphasis=row["scorer"] == "model",
        )
        for row in rows
    ]
    described = "; ".join(
        f"{bar.label} {percent_sv(bar.value)}"
        + (f" (troligen {percent_sv(bar.low)}–{percent_sv(bar.high)})" if bar.low is not None else "")
        for bar in bars
        if bar.value is not None
    )
    return interval_bar_chart(
        f"{name}: andel med brister bland de 10 % högst rankade",
        f"Andel med brister bland de 10 % som varje sätt att välja rankar högst: {described}. "
        f"Bland alla slumpvis inspekterade hade {percent_sv(base_rate)} brister.",
        bars,
        reference=base_rate,
        reference_label=f"Alla slumpvis inspekterade: {percent_sv(base_rate)} hade brister",
    )

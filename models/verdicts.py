"""Per-area verdicts in words: does the model differ reliably from random selection and the best baseline?

Read from the intervals the evaluation already computed (no new resampling):

- *against random selection*: the model's 95 % bootstrap interval of precision@10 % against the base
  rate (the share of deficiencies among the inspected, which is what a random selection finds on
  average). Wholly above: better; wholly below: worse; containing it: not reliably different. Where
  the run records how many inspections the top 10 % selected (``data``/``selected_at_10pct``), the
  model's hits must also be unlikely for a random selection of that size (hypergeometric, one-sided,
  below 2.5 %): with a base rate of 0.98 the top 10 % of 76 inspections is all deficiencies in nearly
  every bootstrap resample (an interval of 1.000–1.000, wholly above 0.98), and a random choice of
  eight finds eight deficiencies 85 % of the time — no evidence of skill.
- *against the best baseline* (complaints, banding or the elastic-net logistic, whichever has the
  highest precision@10 % on the same rows): the paired 95 % interval of the difference model − baseline
  (both measured on the same resamples). Older runs without paired rows fall back to the two separate
  intervals: the difference's bounds are then ``model.lower − baseline.upper`` and
  ``model.upper − baseline.lower`` — the intervals overlap exactly when that range contains zero, a
  more cautious test than the paired one.

Beside the comparison with the best baseline stands its *minimum detectable difference* (MDD): the
smallest true difference model − baseline the sample could have detected with 80 % power by a
two-sided test at the 5 % level, (z₀.₉₇₅ + z₀.₈) × the bootstrap standard error of the paired
difference (``mdd_paired_<metric>`` rows). "Not reliably different" with an MDD of 0.15 says that a
difference below 15 percentage points could not have been seen, not that there is none.

On the ``weighted`` population (inspections with a known inclusion probability, weighted by 1/π) the
hypergeometric check against random selection counts Kish's effective number of inspections
(``data``/``effective_n``, (Σw)²/Σw²) and its top tenth (an approximation: weighted rows are not
draws of equal size).

A weak world (signals barely above noise) should get "not reliably different" in most areas; a world
with a clear signal "better than random". The wording is Swedish for the HTML report and English for
the CLI, as the rest of each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from models.metrics import Interval, random_selection_tail
from models.refusals import decimal_sv

BASELINES = ("complaints", "banding", "logistic")
PAIRED_PREFIX = "paired_difference_"
MDD_PREFIX = "mdd_paired_"
VERDICT_METRIC = "precision_at_10pct"

BETTER, WORSE, UNCLEAR = "better", "worse", "not reliably different"
# A random selection of the same size finding as many deficiencies (or as few) this rarely: not chance.
CHANCE_LEVEL = 0.025
BASELINE_NAMES_EN = {
    "complaints": "complaints per listed",
    "banding": "banding",
    "logistic": "elastic-net logistic",
}
BASELINE_NAMES_SV = {
    "complaints": "klagomål per listade",
    "banding": "indikatorer över trösklar",
    "logistic": "logistisk regression",
}
POPULATION_SV = {
    "random": "slumpvis urval",
    "all": "alla tillsyner",
    "weighted": "alla tillsyner med känd urvalssannolikhet, viktade",
}
POPULATION_EN = {
    "random": "random selections",
    "all": "all inspections",
    "weighted": "inspections with known selection probability, weighted",
}

Values = Mapping[tuple[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Verdict:
    """The model against random selection and the best baseline in one area and population."""

    risk_area: str
    population: str
    metric: str
    n: int
    base_rate: float
    model: Interval
    vs_random: str
    selected: int | None = None
    random_chance: float | None = None
    best_baseline: str | None = None
    baseline: Interval | None = None
    difference: Interval | None = None
    paired: bool = False
    vs_baseline: str | None = None
    mdd: float | None = None  # minimum detectable difference of ``difference`` (80 % power, 5 % level)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields plus the sentences in English and Swedish."""
        return {**asdict(self), "sentence_en": sentence_en(self), "sentence_sv": sentence_sv(self)}


def _interval(row: Mapping[str, Any] | None) -> Interval | None:
    if row is None or row.get("value") is None:
        return None
    lower, upper = row.get("lower"), row.get("upper")
    return Interval(
        float(row["value"]),
        math.nan if lower is None else float(lower),
        math.nan if upper is None else float(upper),
    )


def compared_to_level(interval: Interval, level: float) -> str:
    """``better`` when the whole interval lies above ``level``, ``worse`` below, else not different."""
    if interval.lower > level:
        return BETTER
    if interval.upper < level:
        return WORSE
    return UNCLEAR  # NaN bounds compare False: an interval that does not exist decides nothing


def best_baseline(values: Values, metric: str = VERDICT_METRIC) -> str | None:
    """The baseline with the highest point estimate of ``metric`` (first of :data:`BASELINES` on ties)."""
    found = [(s, values[(s, metric)]["value"]) for s in BASELINES if (s, metric) in values]
    found = [(s, v) for s, v in found if v is not None and not math.isnan(v)]
    return max(found, key=lambda item: item[1])[0] if found else None


def _random_selection_chance(
    values: Values, metric: str, model: Interval, reading: str
) -> tuple[int | None, float | None]:
    """(selected, P(a random selection of that size does at least as well)) — or as badly when the
    interval lies below the base rate; (None, None) without the count (older runs, other metrics)."""
    effective = values.get(("data", "effective_n"))  # weighted rows: what they are worth unweighted
    n = round(float(effective["value"])) if effective else int(values[("data", "n")]["value"])
    base_rate = float(values[("data", "base_rate")]["value"])
    if not metric.startswith("precision_at_"):
        return None, None
    row = values.get(("data", metric.replace("precision_at_", "selected_at_")))
    if row is None or row.get("value") is None or math.isnan(model.estimate) or n <= 0:
        return None, None
    selected = int(row["value"])
    positives = round(base_rate * n)
    hits = round(model.estimate * selected)
    chance = random_selection_tail(n, positives, selected, hits, upper=reading != WORSE)
    return selected, chance


def area_verdict(area: str, population: str, values: Values, metric: str = VERDICT_METRIC) -> Verdict | None:
    """The verdict of one area from its metric rows keyed (scorer, metric); None without the model's."""
    model = _interval(values.get(("model", metric)))
    if model is None or ("data", "base_rate") not in values:
        return None
    base_rate = float(values[("data", "base_rate")]["value"])
    n = int(values[("data", "n")]["value"])
    vs_random = compared_to_level(model, base_rate)
    selected, chance = _random_selection_chance(values, metric, model, vs_random)
    if chance is not None and not chance < CHANCE_LEVEL:
        vs_random = UNCLEAR  # a random choice of the same size does as well too often
    verdict = Verdict(
        risk_area=area,
        population=population,
        metric=metric,
        n=n,
        base_rate=base_rate,
        model=model,
        vs_random=vs_random,
        selected=selected,
        random_chance=chance,
    )
    name = best_baseline(values, metric)
    baseline = _interval(values.get((name, metric))) if name else None
    if name is None or baseline is None:
        return verdict
    difference = _interval(values.get((name, f"{PAIRED_PREFIX}{metric}")))
    paired = difference is not None
    if difference is None:  # an older run: the two separate intervals (overlap ⇔ the range holds 0)
        difference = Interval(
            model.estimate - baseline.estimate, model.lower - baseline.upper, model.upper - baseline.lower
        )
    mdd = values.get((name, f"{MDD_PREFIX}{metric}"), {}).get("value")
    return Verdict(
        **{
            **asdict(verdict),
            "model": model,
            "best_baseline": name,
            "baseline": baseline,
            "difference": difference,
            "paired": paired,
            "vs_baseline": compared_to_level(difference, 0.0),
            "mdd": None if mdd is None or math.isnan(mdd) else float(mdd),
        }
    )


def _en(value: float, sign: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def _sv(value: float, sign: bool = False) -> str:
    """Swedish decimal comma and a real minus sign: −0,045."""
    return decimal_sv(value, signed=sign)


RANDOM_EN = {
    BETTER: "better than random",
    WORSE: "worse than random",
    UNCLEAR: "not reliably different from random",
}
BASELINE_EN = {
    BETTER: "better than the best baseline",
    WORSE: "worse than the best baseline",
    UNCLEAR: "not reliably different from the best baseline",
}
RANDOM_SV = {
    BETTER: "bättre än slumpen",
    WORSE: "sämre än slumpen",
    UNCLEAR: "skiljer sig inte säkert från slumpen",
}
BASELINE_SV = {
    BETTER: "bättre än bästa jämförelsemetod",
    WORSE: "sämre än bästa jämförelsemetod",
    UNCLEAR: "skiljer sig inte säkert från bästa jämförelsemetod",
}


def label_sv(verdict: Verdict) -> str:
    """The short verdict: ``skiljer sig inte säkert från slumpen; bättre än bästa jämförelsemetod``."""
    parts = [RANDOM_SV[verdict.vs_random]]
    if verdict.vs_baseline is not None:
        parts.append(BASELINE_SV[verdict.vs_baseline])
    return "; ".join(parts)


def sentence_en(verdict: Verdict) -> str:
    """One line per area with the intervals the verdict was read from."""
    m = verdict.model
    versus_random = (
        ""
        if verdict.random_chance is None
        else f"; a random selection of as many ({verdict.selected}) finds "
        f"{'at most' if compared_to_level(m, verdict.base_rate) == WORSE else 'at least'} as many "
        f"deficiencies with probability {_chance(verdict.random_chance)}"
    )
    text = (
        f"{verdict.risk_area} ({POPULATION_EN[verdict.population]}, n {verdict.n}): model p@10% "
        f"{_en(m.estimate)} (95% CI {_en(m.lower)}–{_en(m.upper)}) vs the random level (base rate) "
        f"{_en(verdict.base_rate)}{versus_random}: {RANDOM_EN[verdict.vs_random]}"
    )
    if verdict.vs_baseline is None or verdict.baseline is None or verdict.difference is None:
        return text + "."
    b, d = verdict.baseline, verdict.difference
    kind = "paired 95% CI" if verdict.paired else "range where the two 95% CIs overlap"
    return (
        f"{text}; best baseline {BASELINE_NAMES_EN[verdict.best_baseline or '']} {_en(b.estimate)} "
        f"({_en(b.lower)}–{_en(b.upper)}), model − baseline {_en(d.estimate, sign=True)} ({kind} "
        f"{_en(d.lower, sign=True)} to {_en(d.upper, sign=True)}): {BASELINE_EN[verdict.vs_baseline]}"
        f"{mdd_en(verdict)}."
    )


def mdd_en(verdict: Verdict) -> str:
    """``; minimum detectable difference 0.123 (12.3 percentage points, 80% power)`` or ``""``."""
    if verdict.mdd is None:
        return ""
    return (
        f"; minimum detectable difference {_en(verdict.mdd)} "
        f"({100 * verdict.mdd:.1f} percentage points, 80% power)"
    )


def percentage_points_sv(value: float) -> str:
    """``0.123`` → ``12,3 procentenheter``."""
    return f"{100 * value:.1f}".replace(".", ",") + " procentenheter"


def mdd_sv(verdict: Verdict) -> str:
    """The minimum detectable difference as a Swedish sentence, or ``""`` where it is missing.

    Written so that "skiljer sig inte säkert" is read as "a smaller difference could not have been seen".
    """
    if verdict.mdd is None:
        return ""
    return (
        f"Minsta skillnad som underlaget kunde upptäcka (80 % styrka, 5 % nivå) är "
        f"{percentage_points_sv(verdict.mdd)}: en mindre skillnad mot bästa jämförelsemetod hade inte "
        "kunnat ses."
    )


def _chance(probability: float) -> str:
    return "< 0.001" if probability < 0.001 else f"{probability:.3f}"


def verb_sv(phrase: str) -> str:
    """``bättre än …`` → ``är bättre än …``; ``skiljer sig …`` stays (it has its verb)."""
    return phrase if phrase.startswith("skiljer") else f"är {phrase}"


def sentence_sv(verdict: Verdict) -> str:
    """The verdict in Swedish with the intervals it was read from (the HTML report)."""
    m = verdict.model
    where = {
        BETTER: "ligger helt över",
        WORSE: "ligger helt under",
        UNCLEAR: "omfattar",
    }[compared_to_level(m, verdict.base_rate)]
    versus_random = (
        ""
        if verdict.random_chance is None
        else f"; ett slumpvis urval av lika många ({verdict.selected}) hittar "
        f"{'högst' if compared_to_level(m, verdict.base_rate) == WORSE else 'minst'} lika många brister "
        f"med sannolikheten {_chance(verdict.random_chance).replace('.', ',')}"
    )
    text = (
        f"Precision bland de 10 % högst rankade {_sv(m.estimate)} (95 % KI {_sv(m.lower)}–{_sv(m.upper)}; "
        f"{POPULATION_SV[verdict.population]}, {verdict.n} tillsyner). Intervallet {where} slumpnivån "
        f"{_sv(verdict.base_rate)} (andelen med brist, vad ett slumpvis urval hittar i genomsnitt)"
        f"{versus_random}: modellen {verb_sv(RANDOM_SV[verdict.vs_random])}."
    )
    if verdict.vs_baseline is None or verdict.baseline is None or verdict.difference is None:
        return text
    b, d = verdict.baseline, verdict.difference
    kind = "parat 95 % KI" if verdict.paired else "där de två 95 %-intervallen överlappar"
    zero = {BETTER: "ligger helt över noll", WORSE: "ligger helt under noll", UNCLEAR: "omfattar noll"}
    mdd = mdd_sv(verdict)
    return (
        f"{text} Bästa jämförelsemetod är {BASELINE_NAMES_SV[verdict.best_baseline or '']} "
        f"{_sv(b.estimate)} ({_sv(b.lower)}–{_sv(b.upper)}); skillnaden modellen − den är "
        f"{_sv(d.estimate, sign=True)} ({kind} {_sv(d.lower, sign=True)} till {_sv(d.upper, sign=True)}), "
        f"som {zero[verdict.vs_baseline]}: modellen {verb_sv(BASELINE_SV[verdict.vs_baseline])}."
        + (f" {mdd}" if mdd else "")
    )


def _reliably_better(verdicts: Mapping[str, Verdict]) -> tuple[int, list[str], list[str]]:
    """The number of areas, and those where the model is reliably better than random / the best baseline."""
    random_better = [a for a, v in verdicts.items() if v.vs_random == BETTER]
    baseline_better = [a for a, v in verdicts.items() if v.vs_baseline == BETTER]
    return len(verdicts), random_better, baseline_better


def overall_sv(verdicts: Mapping[str, Verdict], area_names: Mapping[str, str] | None = None) -> str:
    """The run in one Swedish sentence: in how many areas the model is reliably better than what.

    ``area_names``: area id → Swedish name (the ids are written where a name is missing).
    """
    names = area_names or {}
    if not verdicts:
        return "Inget riskområde har tillsyner att bedöma modellen på."
    total, random_better, baseline_better = _reliably_better(verdicts)
    if not random_better:
        return (
            f"I inget av {total} riskområden skiljer sig modellen säkert från slumpen: på de här tillsynerna "
            "går det inte att visa att modellen hittar brister bättre än ett slumpvis urval."
        )
    against_random = (
        f"Modellen är säkert bättre än slumpen i {len(random_better)} av {total} riskområden"
        f" ({', '.join(names.get(a, a) for a in random_better)})"
    )
    if not baseline_better:
        return f"{against_random}, men i inget av dem säkert bättre än bästa jämförelsemetod."
    return (
        f"{against_random} och säkert bättre än bästa jämförelsemetod i {len(baseline_better)}"
        f" ({', '.join(names.get(a, a) for a in baseline_better)})."
    )


def overall_en(verdicts: Mapping[str, Verdict]) -> str:
    """The run in one English sentence (the CLI)."""
    if not verdicts:
        return "no risk area has inspections to judge the model on"
    total, random_better, baseline_better = _reliably_better(verdicts)
    if not random_better:
        return (
            f"in none of {total} risk areas is the model reliably different from random selection: "
            "these inspections cannot show that it finds deficiencies better than a random choice"
        )
    return (
        f"the model is reliably better than random in {len(random_better)} of {total} risk areas and "
        f"reliably better than the best baseline in {len(baseline_better)}"
    )

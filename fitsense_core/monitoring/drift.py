"""Drift: the window's requests against the serving version's training data (population
stability index of the slice distributions and of the request length, plus a two-sample
Kolmogorov–Smirnov statistic of the length)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fitsense_core.monitoring.report import Thresholds
from fitsense_core.student.evaluation import SLICE_DIMENSIONS, percentile

PSI_EPSILON = 1e-4
# The slice tags compared with the training data (prompt_type: the mix of request kinds).
DRIFT_DIMENSIONS = (*SLICE_DIMENSIONS, "prompt_type")


def psi(expected: Counter, actual: Counter, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of ``actual`` against ``expected`` over their categories
    (a category one side lacks gets ``epsilon`` so the statistic stays finite)."""
    total_e, total_a = sum(expected.values()), sum(actual.values())
    if not total_e or not total_a:
        raise ValueError("PSI needs observations on both sides")
    value = 0.0
    for category in set(expected) | set(actual):
        e = max(expected.get(category, 0) / total_e, epsilon)
        a = max(actual.get(category, 0) / total_a, epsilon)
        value += (a - e) * math.log(a / e)
    return round(value, 4)


def length_bins(reference: Sequence[float], bins: int = 10) -> list[float]:
    """Inner bin edges at the reference's deciles (deduplicated)."""
    ordered = sorted(reference)
    edges = {ordered[min(len(ordered) - 1, int(len(ordered) * k / bins))] for k in range(1, bins)}
    return sorted(edges)


def binned(values: Sequence[float], edges: Sequence[float]) -> Counter:
    counts: Counter = Counter()
    for v in values:
        counts[sum(1 for edge in edges if v >= edge)] += 1
    return counts


def ks_two_sample(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value."""
    if not a or not b:
        raise ValueError("KS needs observations on both sides")
    xs, ys = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(xs) and j < len(ys):
        x = min(xs[i], ys[j])
        while i < len(xs) and xs[i] <= x:
            i += 1
        while j < len(ys) and ys[j] <= x:
            j += 1
        d = max(d, abs(i / len(xs) - j / len(ys)))
    n = len(xs) * len(ys) / (len(xs) + len(ys))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * (k * lam) ** 2) for k in range(1, 101))
    return round(d, 4), round(min(1.0, max(0.0, p)), 4)


@dataclass(frozen=True)
class Reference:
    """What the serving version was trained on: request lengths and slice tags."""

    source: str
    lengths: list[int]
    slices: list[dict[str, str]]


def training_reference(records: Sequence[dict[str, Any]], source: str) -> Reference:
    return Reference(
        source=source,
        lengths=[len(r["metadata"]["request"]) for r in records],
        slices=[r["metadata"]["slices"] for r in records],
    )


def drift_report(
    reference: Reference | None, rows: Sequence[dict[str, Any]], thresholds: Thresholds
) -> dict[str, Any]:
    """PSI of every slice dimension and of the binned request length, and the KS statistic
    of the length, for the window's user requests against the training data. Probes and
    test accounts are not the population the model serves: they are counted, not
    compared. ``retrain_reason`` is set when the drift is a retraining cause (PSI above
    ``drift_psi_retrain`` on enough requests from enough people)."""
    people_rows = [r for r in rows if not r["probe"] and r["slices"]]
    live = [r for r in people_rows if not r.get("test_account")]
    excluded = {"test_account_requests": len(people_rows) - len(live)}
    if reference is None or not reference.lengths:
        return {"status": "no_reference", "detail": "no training data for the serving version"}
    if len(live) < thresholds.min_drift_requests:
        return {
            "status": "too_few_requests",
            "detail": f"{len(live)} user requests with slice tags in the window; drift needs "
            f"{thresholds.min_drift_requests}",
            "reference": reference.source,
            "live_requests": len(live),
            **excluded,
        }
    lengths = [r["query_chars"] for r in live]
    edges = length_bins(reference.lengths)
    by_dimension = {}
    for dim in DRIFT_DIMENSIONS:
        expected = Counter(s.get(dim, "") for s in reference.slices)
        actual = Counter((r["slices"] or {}).get(dim, "") for r in live)
        by_dimension[dim] = {
            "psi": psi(expected, actual),
            "training": _shares(expected),
            "live": _shares(actual),
        }
    length_psi = psi(binned(reference.lengths, edges), binned(lengths, edges))
    ks, p_value = ks_two_sample(reference.lengths, lengths)
    scores = {"request length": length_psi, **{d: v["psi"] for d, v in by_dimension.items()}}
    worst_name, worst = max(scores.items(), key=lambda kv: kv[1])
    people = len({r.get("person") for r in live})
    retrain_reason = None
    if (
        worst > thresholds.drift_psi_retrain
        and len(live) >= thresholds.min_drift_retrain_requests
        and people >= thresholds.min_drift_people
    ):
        retrain_reason = (
            f"drift: {worst_name} PSI {worst:.2f} > {thresholds.drift_psi_retrain} "
            f"({len(live)} requests from {people} people)"
        )
    return {
        "status": "drift" if worst > thresholds.drift_psi_warn else "stable",
        "retrain_reason": retrain_reason,
        "reference": reference.source,
        "training_requests": len(reference.lengths),
        "live_requests": len(live),
        "live_people": people,
        **excluded,
        "slices": by_dimension,
        "request_length": {
            "psi": length_psi,
            "ks": ks,
            "ks_p_value": p_value,
            "training_median": percentile(reference.lengths, 0.5),
            "live_median": percentile(lengths, 0.5),
        },
        "max_psi": worst,
    }


def _shares(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {k: round(v / total, 3) for k, v in sorted(counts.items())}

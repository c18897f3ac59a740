"""Live quality per capability, and which capabilities fell below their gate.

The promotion gate passes each capability on the golden set (``student.evaluation``):
plans by the programming-quality checks, coach replies by the reply judge's acceptance.
Live, the same checks run on every served answer (the API's post-check and reply judge):
an answer they refuse falls back to the knowledge-based coach. So a capability's live
quality is the share of the model's answers the checks accepted, over the window's user
requests and probes of the serving version — counting only answers the model gave (no
outage, timeout or too-long request; those are serving problems).

A capability is **breached** when that share is clearly below its floor: the upper end of
the 95 % Wilson interval lies below it (so a couple of unlucky answers never switch a
capability off), on at least ``min_capability_answers`` answers. Monitoring then suspends
it (``student.suspensions``) and users get the knowledge-based coach for it at once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from fitsense_core.inference.serve import (
    NOT_CAPABLE,
    REQUEST_REFUSED,
    REQUEST_TOO_LONG,
    SUSPENDED,
    UNAVAILABLE,
)
from fitsense_core.student.registry import CAPABILITIES

CAPABILITY_OF_CONTEXT = {
    "plan_generate": "plan_creation",
    "plan_update": "plan_update",
    "plan_adapt": "plan_adaptation",
    "coach": "coach_reply",
}
PLAN_CAPABILITIES = tuple(c for c in CAPABILITIES if c != "coach_reply")
# Fallbacks where the model gave no answer, or was not asked: not the model's quality.
NOT_ANSWERED = (UNAVAILABLE, REQUEST_TOO_LONG, REQUEST_REFUSED, NOT_CAPABLE, SUSPENDED)
Z_95 = 1.959964


def wilson_upper(successes: int, n: int, z: float = Z_95) -> float:
    """Upper end of the Wilson score interval of a proportion (Wilson 1927)."""
    if n == 0:
        return 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def capability_of(row: Mapping[str, Any]) -> str | None:
    context = row["context_type"]
    if row.get("probe"):
        context = (row.get("slices") or {}).get("probe_context", context)
    return CAPABILITY_OF_CONTEXT.get(context)


def capability_metrics(
    rows: Sequence[Mapping[str, Any]], version: str | None
) -> dict[str, dict[str, Any]]:
    """Per capability, the serving ``version``'s answers in the window and the share the
    checks accepted (``acceptance``; None without answers) with its Wilson upper bound."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        capability = capability_of(r)
        if capability is None or version is None or r["model_version"] != version:
            continue
        if r["outcome"] not in ("ok", "fallback"):
            continue
        if (r["error"] or "").startswith(NOT_ANSWERED):
            continue
        counts[capability][1] += 1
        counts[capability][0] += r["outcome"] == "ok"
    result = {}
    for capability in CAPABILITY_OF_CONTEXT.values():
        accepted, answers = counts.get(capability, (0, 0))
        result[capability] = {
            "answers": answers,
            "accepted": accepted,
            "acceptance": round(accepted / answers, 4) if answers else None,
            "acceptance_upper_95": round(wilson_upper(accepted, answers), 4),
        }
    return result


def breaches(
    metrics: Mapping[str, Mapping[str, Any]],
    *,
    plan_floor: float,
    reply_floor: float,
    min_answers: int,
) -> dict[str, str]:
    """The capabilities whose live acceptance is clearly below their floor, with why."""
    found = {}
    for capability, m in metrics.items():
        floor = plan_floor if capability in PLAN_CAPABILITIES else reply_floor
        if m["answers"] < min_answers or m["acceptance_upper_95"] >= floor:
            continue
        found[capability] = (
            f"live acceptance {m['acceptance']:.0%} of {m['answers']} model answers "
            f"(95 % upper bound {m['acceptance_upper_95']:.0%}) < {floor:.0%}"
        )
    return found

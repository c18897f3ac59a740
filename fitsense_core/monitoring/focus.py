"""What a retraining run should target, from the monitoring report that caused it.

A run that rebuilds the same mix of the same kind of people mostly rebuilds the model it
replaces. The focus names what decayed or drifted, so the run can give it more weight:

- ``capabilities``: the capabilities whose live quality fell below their gate (suspended),
  else, when plan validity decayed, the plan capabilities;
- ``slices``: for drift, the slice dimension that drifted most and the value whose share
  of live requests grew the most over its share of the training data (e.g.
  ``{"age_band": "65+"}``).

The retraining sensor turns it into run config: the ``prompts`` asset asks the focus
prompt types and the people in the focus slices ``focus_factor`` times as often, and the
evaluation reports the focus slices and capabilities on their own.
"""

from __future__ import annotations

from typing import Any

from fitsense_core.monitoring.capabilities import PLAN_CAPABILITIES
from fitsense_core.monitoring.report import MonitoringReport

# The prompt type that teaches each capability (adaptation is learned from updates).
PROMPT_TYPE_OF = {
    "plan_creation": "plan_creation",
    "plan_update": "plan_update",
    "plan_adaptation": "plan_update",
    "coach_reply": "coaching",
}
FOCUS_FACTOR = 2


def drifted_slice(drift: dict[str, Any]) -> dict[str, str]:
    """The value of the most drifted slice dimension that grew the most (empty: none)."""
    slices = drift.get("slices") or {}
    if not slices:
        return {}
    dim, entry = max(slices.items(), key=lambda kv: kv[1].get("psi", 0.0))
    training, live = entry.get("training", {}), entry.get("live", {})
    grown = {v: share - training.get(v, 0.0) for v, share in live.items() if v}
    if not grown or max(grown.values()) <= 0:
        return {}
    return {dim: max(grown, key=lambda v: (grown[v], v))}


def retraining_focus(report: MonitoringReport) -> dict[str, Any]:
    """The capabilities and slices a run caused by ``report`` should give more weight."""
    capabilities = sorted(report.capability_breaches)
    if not capabilities and any(
        r.startswith(("contract validity", "semantic validity")) for r in report.decay_reasons
    ):
        capabilities = list(PLAN_CAPABILITIES)
    slices = drifted_slice(report.drift) if report.drift_reasons else {}
    return {
        "capabilities": capabilities,
        "prompt_types": sorted({PROMPT_TYPE_OF[c] for c in capabilities}),
        "slices": slices,
    }


def focus_run_config(focus: dict[str, Any]) -> dict[str, Any]:
    """Run config for the pipeline job that puts ``focus`` into effect (empty: none)."""
    if not focus.get("prompt_types") and not focus.get("slices"):
        return {}
    return {
        "ops": {
            "prompts": {
                "config": {
                    "focus_prompt_types": list(focus.get("prompt_types", [])),
                    "focus_slices": dict(focus.get("slices", {})),
                    "focus_factor": FOCUS_FACTOR,
                }
            },
            "student_evaluation": {
                "config": {
                    "focus_capabilities": list(focus.get("capabilities", [])),
                    "focus_slices": dict(focus.get("slices", {})),
                }
            },
        }
    }

"""Blocking QA checks: the dataset is not built when validation, the canaries or bias
fail."""

import dagster as dg

from fitsense_assets.resources import ArtifactStoreResource
from fitsense_core import layout

MIN_PASS_RATE = 0.8
# Below this many people a missing slice is expected (e.g. nobody over 60 in a run of 10)
# and is reported without blocking.
MIN_PEOPLE_FOR_SLICE_COVERAGE = 100


def _report(store_resource: ArtifactStoreResource, run_id: str, name: str) -> dict:
    return store_resource.store().read_json(*layout.qa_report(run_id, name))


@dg.asset_check(
    asset="teacher_output_validation",
    blocking=True,
    description=f"At least {MIN_PASS_RATE:.0%} of teacher answers pass post-validation.",
)
def validation_pass_rate(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    report = _report(artifact_store, context.partition_key, "validation")
    return dg.AssetCheckResult(
        passed=report["total"] > 0 and report["pass_rate"] >= MIN_PASS_RATE,
        description=f"{report['accepted']} of {report['total']} accepted "
        f"({report['pass_rate']:.1%})",
        metadata={
            "pass_rate": report["pass_rate"],
            "rejections_by_reason": dg.MetadataValue.json(report["rejections_by_reason"]),
        },
    )


def canaries_all_caught(report: dict) -> bool:
    """At least one canary was planted and every one was rejected."""
    return report["planted"] > 0 and report["caught"] == report["planted"]


@dg.asset_check(
    asset="teacher_output_validation",
    blocking=True,
    description="Every known-bad canary planted in this run's QA is rejected (100 % "
    "recall), and at least one was planted.",
)
def canaries_caught(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    report = _report(artifact_store, context.partition_key, "canaries")
    missed = [f"{m['kind']} on {m['prompt_request']!r}" for m in report["missed"]]
    return dg.AssetCheckResult(
        passed=canaries_all_caught(report),
        description=(
            f"{report['caught']} of {report['planted']} canaries rejected"
            + (f"; missed: {'; '.join(missed[:5])}" if missed else "")
            + (
                f"; no prompt suited: {', '.join(report['not_planted'])}"
                if report["not_planted"]
                else ""
            )
        ),
        metadata={
            "recall": report["recall"] if report["recall"] is not None else 0.0,
            "by_kind": dg.MetadataValue.json(report["by_kind"]),
        },
    )


@dg.asset_check(
    asset="qa_bias_slices",
    blocking=True,
    description="No slice deviates critically (> 25 %) from overall quality or "
    "safety, and every expected slice exists in the data (runs of 100+ people).",
)
def no_critical_bias(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    report = _report(artifact_store, context.partition_key, "bias")
    problems = [
        f"{f['slice']} {f['metric']} {f['value']} vs {f['overall']} ({f['deviation']:+.0%})"
        for f in report["critical"]
    ]
    missing = [
        f"no data for {dim} in {', '.join(values)}"
        for dim, values in report["missing_slices"].items()
    ]
    if report["people"] >= MIN_PEOPLE_FOR_SLICE_COVERAGE:
        problems += missing
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems[:10])
        or "no critical deviation"
        + (f" (run too small to require every slice: {'; '.join(missing)})" if missing else ""),
        metadata={
            "critical": len(report["critical"]),
            "flags": len(report["flags"]),
            "missing_slices": dg.MetadataValue.json(report["missing_slices"]),
        },
    )


@dg.asset_check(
    asset="qa_anomalies", blocking=False, description="Few outliers and duplicate answers (warns)."
)
def few_anomalies(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    report = _report(artifact_store, context.partition_key, "anomalies")
    validation = _report(artifact_store, context.partition_key, "validation")
    outlier_share = report["outlier_count"] / max(1, validation["total"])
    return dg.AssetCheckResult(
        passed=outlier_share <= 0.05 and report["exact_duplicate_share"] <= 0.5,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{report['outlier_count']} outliers ({outlier_share:.1%}), "
        f"{report['exact_duplicate_share']:.1%} exact duplicates, "
        f"{report['near_duplicate_pairs']} near-duplicate pairs",
        metadata={"outlier_share": round(outlier_share, 4)},
    )

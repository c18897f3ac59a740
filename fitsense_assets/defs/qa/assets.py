"""QA of the teacher's answers: post-validation, statistics, anomalies and bias slices.

One step computes all four (they share the validation pass) and materializes four
assets, each with a JSON report in the artifact store and a markdown summary here. The
validation also judges known-bad canaries planted for this run (``canaries``): their
recall is reported (``reports/<run>/canaries.json``) and checked (``canaries_caught``).
"""

import json

import dagster as dg
import pandas as pd

from fitsense_assets.automation import REFRESH_WHEN_INPUTS_CHANGE
from fitsense_assets.defs.teacher.assets import prompts, teacher_outputs
from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_assets.stages import read_answers, read_prompts
from fitsense_core import layout
from fitsense_core.canaries import canary_report, judge_canaries, plant_canaries
from fitsense_core.qa import (
    anomaly_report,
    bias_report,
    statistics_report,
    validate_answers,
    validation_report,
)
from fitsense_core.synthetic import TableSet

QA_ASSETS = ("teacher_output_validation", "qa_statistics", "qa_anomalies", "qa_bias_slices")


def _md_counts(title: str, counts: dict) -> str:
    frame = pd.DataFrame({"key": list(counts), "count": list(counts.values())})
    return f"**{title}**\n\n" + (markdown_table(frame, 30) if len(frame) else "(none)")


@dg.multi_asset(
    partitions_def=run_partitions,
    group_name="qa",
    specs=[
        dg.AssetSpec(
            "teacher_output_validation",
            kinds={"python", "json"},
            deps=[prompts, teacher_outputs],
            automation_condition=REFRESH_WHEN_INPUTS_CHANGE,
            description="Every answer checked against the plan contract, the person's "
            "constraints, the safety policy, the programming-quality checks, the request's "
            "intent and the independent reply checks; rejects with reasons; known-bad "
            "canaries judged alongside, their recall in canaries.json.",
        ),
        dg.AssetSpec(
            "qa_statistics",
            kinds={"python", "json"},
            deps=[prompts, teacher_outputs],
            automation_condition=REFRESH_WHEN_INPUTS_CHANGE,
            description="Distributions per field and per prompt type.",
        ),
        dg.AssetSpec(
            "qa_anomalies",
            kinds={"python", "json"},
            deps=[prompts, teacher_outputs],
            automation_condition=REFRESH_WHEN_INPUTS_CHANGE,
            description="Outliers in volume, reps, rest and plan length within each goal "
            "and prompt type; duplicate and near-duplicate answers.",
        ),
        dg.AssetSpec(
            "qa_bias_slices",
            kinds={"python", "json"},
            deps=[prompts, teacher_outputs],
            automation_condition=REFRESH_WHEN_INPUTS_CHANGE,
            description="Quality and safety of the teacher's answers per slice against "
            "overall (flag > 10 %, critical > 25 %, slices of 10+ people) and slices "
            "missing from the data.",
        ),
    ],
)
def qa_reports(context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource):
    store = artifact_store.store()
    run_id = context.partition_key
    batch, answers = read_prompts(store, run_id), read_answers(store, run_id)
    validated = validate_answers(batch, answers)
    canaries = plant_canaries(run_id, batch, answers)
    canary = canary_report(canaries, judge_canaries(canaries))
    store.write_json(canary, *layout.qa_report(run_id, "canaries"))
    table = pd.DataFrame(
        [
            {
                "prompt_id": v.prompt.prompt_id,
                "user_id": v.prompt.user_id,
                "prompt_type": v.prompt.prompt_type,
                "topic": v.prompt.topic,
                "accepted": v.accepted,
                "codes": "|".join(sorted(set(v.codes))),
                "reasons": json.dumps(list(v.reasons)),
                "stats": json.dumps(v.stats, sort_keys=True),
            }
            for v in validated
        ]
    )
    rejected = table[~table["accepted"]].reset_index(drop=True)
    store.write_tables(
        TableSet({"validated": table, "rejects": rejected}, {"run_id": run_id}),
        *layout.validation_tables(run_id),
    )

    validation = validation_report(validated)
    statistics = statistics_report(validated)
    anomalies = anomaly_report(validated)
    bias = bias_report(validated)
    for name, report in (
        ("validation", validation),
        ("statistics", statistics),
        ("anomalies", anomalies),
        ("bias", bias),
    ):
        store.write_json(report, *layout.qa_report(run_id, name))

    rejects = table[~table["accepted"]][["prompt_type", "codes", "reasons"]]
    yield dg.MaterializeResult(
        asset_key="teacher_output_validation",
        metadata={
            "accepted": validation["accepted"],
            "rejected": validation["rejected"],
            "pass_rate": validation["pass_rate"],
            "canary_recall": canary["recall"] if canary["recall"] is not None else "none planted",
            "canaries": dg.MetadataValue.json(
                {k: f"{v['caught']}/{v['planted']}" for k, v in canary["by_kind"].items()}
            ),
            "rejections_by_reason": dg.MetadataValue.md(
                _md_counts("Rejections by reason", validation["rejections_by_reason"])
            ),
            "rejected_examples": dg.MetadataValue.md(
                markdown_table(rejects, 5) if len(rejects) else "(none)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*layout.qa_report(run_id, "validation"))),
        },
    )
    plan_stats = statistics["per_prompt_type"].get("plan_creation", {})
    rows = [{"field": k, **v} for k, v in plan_stats.items()]
    yield dg.MaterializeResult(
        asset_key="qa_statistics",
        metadata={
            "prompt_types": dg.MetadataValue.json(statistics["prompt_types"]),
            "safety_levels": dg.MetadataValue.json(statistics["safety_levels"]),
            "plan_creation_fields": dg.MetadataValue.md(
                markdown_table(pd.DataFrame(rows), 20) if rows else "(none)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*layout.qa_report(run_id, "statistics"))),
        },
    )
    yield dg.MaterializeResult(
        asset_key="qa_anomalies",
        metadata={
            "outliers": anomalies["outlier_count"],
            "outliers_by_field": dg.MetadataValue.json(anomalies["outliers_by_field"]),
            "exact_duplicate_share": anomalies["exact_duplicate_share"],
            "near_duplicate_pairs": anomalies["near_duplicate_pairs"],
            "outlier_examples": dg.MetadataValue.md(
                markdown_table(pd.DataFrame(anomalies["outliers"][:10]), 10)
                if anomalies["outliers"]
                else "(none)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*layout.qa_report(run_id, "anomalies"))),
        },
    )
    flags = pd.DataFrame(bias["flags"])
    yield dg.MaterializeResult(
        asset_key="qa_bias_slices",
        metadata={
            "overall": dg.MetadataValue.json(bias["overall"]),
            "flags": len(bias["flags"]),
            "critical": len(bias["critical"]),
            "missing_slices": dg.MetadataValue.json(bias["missing_slices"]),
            "flagged_slices": dg.MetadataValue.md(
                markdown_table(flags, 20) if len(flags) else "(no slice deviates more than 10 %)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*layout.qa_report(run_id, "bias"))),
        },
    )

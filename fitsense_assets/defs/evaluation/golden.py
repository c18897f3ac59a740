"""The golden evaluation set: one fixed set of prompts per golden-set version, shared by
every run, so that model versions are scored on the same prompts (see
``fitsense_core.student.golden``).

Not partitioned by run: it is built once per version (``code_version`` is the version) and
reused; a run that materializes it again reads the stored set back instead of rebuilding it
(``rebuild`` forces a rebuild, which gives the same bytes unless the recipe changed without
a version bump).
"""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import read_split
from fitsense_core.student.golden import (
    GOLDEN_SET_VERSION,
    build_golden_set,
    golden_problems,
    golden_summary,
    read_golden_set,
    write_golden_set,
)


class GoldenSetConfig(dg.Config):
    rebuild: bool = Field(
        default=False,
        description="Build the set again even when this version is already stored.",
    )


def _slice_table(summary: dict[str, Any]) -> str:
    rows = [
        {"slice": f"{dimension}={value}", "prompts": n["prompts"], "people": n["people"]}
        for dimension, values in summary["slices"].items()
        for value, n in values.items()
    ]
    return markdown_table(pd.DataFrame(rows), len(rows))


@dg.asset(
    group_name="evaluation",
    kinds={"python", "jsonl"},
    code_version=GOLDEN_SET_VERSION,
    description="The fixed golden evaluation set of this golden-set version, for every run "
    "and model version: plan creation over a goal x experience x days grid (all session "
    "lengths, kits incl. bodyweight, every age band, condition and injured region), plan "
    "updates with paraphrases of each intent, adaptations from logged weeks, coaching "
    "questions and safety cases; synthetic people with golden-* ids and a seed no training "
    "run uses; the teacher's answers as references.",
)
def golden_eval_set(
    context: dg.AssetExecutionContext,
    config: GoldenSetConfig,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    store = artifact_store.store()
    version = GOLDEN_SET_VERSION
    reused = store.exists(*layout.golden_set_manifest(version)) and not config.rebuild
    if reused:
        _version, records = read_golden_set(store, version)
        manifest = store.read_json(*layout.golden_set_manifest(version))
        context.log.info(f"golden set {version} is stored: reusing its {len(records)} records")
    else:
        records = build_golden_set(version)
        manifest = write_golden_set(store, version, records)
        context.log.info(f"golden set {version}: built {len(records)} records")
    summary = golden_summary(records)
    context.log.info(
        f"golden set {version}: {summary['plan_prompts']} plan prompts, "
        f"{summary['people']} people, by capability {summary['by_capability']}"
    )
    intents = pd.DataFrame(
        [
            {"capability": capability, "intent": intent, "prompts": n}
            for capability, counts in summary["intents"].items()
            for intent, n in counts.items()
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(records),
            "version": version,
            "reused": reused,
            "plan_prompts": summary["plan_prompts"],
            "people": summary["people"],
            "by_capability": dg.MetadataValue.json(summary["by_capability"]),
            "people_by_capability": dg.MetadataValue.json(summary["people_by_capability"]),
            "intents": dg.MetadataValue.md(markdown_table(intents, len(intents))),
            "conditions": dg.MetadataValue.json(summary["conditions"]),
            "slices": dg.MetadataValue.md(_slice_table(summary)),
            "teachers": dg.MetadataValue.json(manifest.get("teachers", {})),
            "sha256": manifest["sha256"],
            "path": dg.MetadataValue.path(store.uri(*layout.golden_set(version))),
        },
        data_version=dg.DataVersion(manifest["sha256"][:16]),
    )


def training_splits(store: ArtifactStore, run_ids: list[str]) -> dict[str, list[dict]]:
    """The training split of every run that has one."""
    return {
        run_id: read_split(store, run_id, "train")
        for run_id in run_ids
        if store.exists(*layout.distillation_split(run_id, "train"))
    }


@dg.asset_check(
    asset=golden_eval_set,
    blocking=True,
    description="At least 200 plan prompts, every capability with 20 or more, every update "
    "intent present, every record readable by the evaluation, golden-* ids only, and no "
    "golden person in the training split of any run found (the run_id partitions).",
)
def golden_eval_set_valid(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    version, records = read_golden_set(store, GOLDEN_SET_VERSION)
    runs = list(context.instance.get_dynamic_partitions(run_partitions.name))
    splits = training_splits(store, runs)
    problems = golden_problems(records, splits)
    overlap = (
        f"no golden person in the training splits of {len(splits)} run(s)"
        if splits
        else "no run has a training split yet: nothing to overlap with"
    )
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems[:10]) or f"ok ({overlap})",
        metadata={
            "version": version,
            "runs_checked": dg.MetadataValue.json(sorted(splits)),
            "problems": dg.MetadataValue.json(problems),
        },
    )

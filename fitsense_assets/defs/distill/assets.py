"""The distillation dataset: accepted teacher answers as chat SFT records, split by user."""

from collections import Counter

import dagster as dg
import pandas as pd

from fitsense_assets.automation import REFRESH_WHEN_INPUTS_CHANGE
from fitsense_assets.defs.teacher.assets import prompts, teacher_outputs
from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_assets.stages import read_answers, read_prompts, read_validation
from fitsense_core import layout
from fitsense_core.distill import dataset_records, withhold_policy_answers, write_dataset
from fitsense_core.qa import ValidatedAnswer


def accepted_answers(store, run_id: str) -> tuple[list[ValidatedAnswer], int]:
    """Answers that passed post-validation, and how many were rejected."""
    validation = read_validation(store, run_id)
    accepted_ids = set(validation.loc[validation["accepted"].astype(bool), "prompt_id"])
    answers = {a.prompt_id: a for a in read_answers(store, run_id)}
    accepted = [
        ValidatedAnswer(p, answers[p.prompt_id], (), (), {})
        for p in read_prompts(store, run_id)
        if p.prompt_id in accepted_ids
    ]
    return accepted, len(validation) - len(accepted_ids)


@dg.asset(
    partitions_def=run_partitions,
    group_name="distill",
    kinds={"python", "jsonl"},
    deps=[prompts, teacher_outputs, "teacher_output_validation", "qa_bias_slices"],
    automation_condition=REFRESH_WHEN_INPUTS_CHANGE,
    description="Chat-format SFT records (system, user, assistant) with metadata and slice "
    "tags; exact and near-duplicate targets dropped before the split; train/val/test "
    "grouped by person by a stable hash of the profile (test people were asked only "
    "held-out requests); emergencies withheld from train and val (the policy answers them); "
    "manifest with counts, what was dropped and withheld, hashes, source run and teacher.",
)
def distillation_dataset(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    store = artifact_store.store()
    run_id = context.partition_key
    accepted, rejected = accepted_answers(store, run_id)
    deduplicated, dropped = dataset_records(accepted)
    records, withheld = withhold_policy_answers(deduplicated)
    teachers = dict(
        Counter(f"{v.answer.provider}/{v.answer.model}/{v.answer.source}" for v in accepted)
    )
    manifest = write_dataset(
        store,
        run_id,
        records,
        teachers=teachers,
        rejected=rejected,
        dropped=dropped,
        withheld=withheld,
    )
    counts = pd.DataFrame(manifest["counts_by_split_and_type"]).T.reset_index(names="split")
    sample = next((r for r in records if r.metadata["prompt_type"] == "coaching"), None)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": manifest["records"],
            "rejected": rejected,
            "withheld_emergencies": withheld["count"],
            "duplicates_dropped": dropped["duplicates"]["candidates"]
            - dropped["duplicates"]["kept"],
            "duplicate_share": dropped["duplicates"]["duplicate_share"],
            "test_requests_seen_in_train": dropped["test_requests_seen_in_train"],
            "content_sha256": manifest["content_sha256"],
            "users_by_split": dg.MetadataValue.json(manifest["users_by_split"]),
            "teachers": dg.MetadataValue.json(teachers),
            "counts": dg.MetadataValue.md(markdown_table(counts, 3)),
            "sample_record": dg.MetadataValue.md(
                "\n\n".join(f"**{m['role']}**: {m['content'][:400]}" for m in sample.messages)
                if sample
                else "(none)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*layout.distillation_dataset(run_id))),
        }
    )

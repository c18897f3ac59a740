"""The dataset holds only accepted answers, keeps users apart and matches its manifest."""

import hashlib

import dagster as dg

from fitsense_assets.defs.distill.assets import distillation_dataset
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_assets.stages import read_validation
from fitsense_core import layout
from fitsense_core.distill import LEARNED_SPLITS, POLICY_LEVELS, SPLITS, read_split
from fitsense_core.prompts import PROMPT_TYPES

SHARE_TOLERANCE = 0.05


@dg.asset_check(
    asset=distillation_dataset,
    blocking=True,
    description="No rejected answer in the dataset, no emergency in train or val, no person "
    "in two splits, every prompt type in every split near its share, files match the "
    "manifest.",
)
def distillation_dataset_integrity(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    manifest = store.read_json(*layout.distillation_manifest(run_id))
    validation = read_validation(store, run_id)
    rejected = set(validation.loc[~validation["accepted"].astype(bool), "prompt_id"])
    problems = []
    users: dict[str, set[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        data = store.read_bytes(*layout.distillation_split(run_id, split))
        if hashlib.sha256(data).hexdigest() != manifest["files"][split]["sha256"]:
            problems.append(f"{split}.jsonl does not match the manifest")
        records = read_split(store, run_id, split)
        users[split] = {r["metadata"]["user_id"] for r in records}
        # The shares judge the split assignment: the emergencies withheld from train and val
        # after it count where they were assigned.
        withheld = manifest.get("withheld", {}).get("by_split_and_type", {}).get(split, {})
        counts[split] = {
            t: sum(r["metadata"]["prompt_type"] == t for r in records) + withheld.get(t, 0)
            for t in PROMPT_TYPES
        }
        emergencies = sum(r["metadata"]["expected_safety_level"] in POLICY_LEVELS for r in records)
        if split in LEARNED_SPLITS and emergencies:
            problems.append(
                f"{emergencies} emergencies in {split}: the policy answers those, the student "
                "must not learn them"
            )
        leaked = [r["id"] for r in records if r["id"] in rejected]
        if leaked:
            problems.append(f"{len(leaked)} rejected answers in {split}")
    splits = list(SPLITS)
    for i, a in enumerate(splits):
        for b in splits[i + 1 :]:
            if users[a] & users[b]:
                problems.append(f"{len(users[a] & users[b])} people in both {a} and {b}")
    for t in PROMPT_TYPES:
        total = sum(counts[s][t] for s in SPLITS)
        for split, share in SPLITS.items():
            if total and (
                counts[split][t] == 0 or abs(counts[split][t] / total - share) > SHARE_TOLERANCE
            ):
                problems.append(
                    f"{split} holds {counts[split][t]} of {total} {t} records (target {share:.0%})"
                )
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems[:10]) or "ok",
        metadata={"counts": dg.MetadataValue.json(counts)},
    )

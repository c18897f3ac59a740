"""The dataset holds only accepted answers, keeps people apart, shows no test request to
training, holds few duplicates and matches its manifest."""

import hashlib
import math

import dagster as dg

from fitsense_assets.defs.distill.assets import distillation_dataset
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_assets.stages import read_validation
from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import LEARNED_SPLITS, POLICY_LEVELS, SPLITS, read_split
from fitsense_core.prompts import PROMPT_TYPES
from fitsense_core.safety import normalise

SHARE_TOLERANCE = 0.05
# People are split by a hash of their profile, so a split's share is a binomial draw:
# it may stray this many standard deviations (over the run's people) from its target.
SHARE_SIGMAS = 3
# More duplicate targets than this share of the accepted answers and the teacher is
# repeating itself: the dataset is not built on it, even with the copies dropped.
MAX_DUPLICATE_SHARE = 0.25


def share_tolerance(share: float, people: int) -> float:
    """How far a split's share of a prompt type may be from ``share`` with ``people``."""
    return max(SHARE_TOLERANCE, SHARE_SIGMAS * math.sqrt(share * (1 - share) / max(1, people)))


@dg.asset_check(
    asset=distillation_dataset,
    blocking=True,
    description="No rejected answer in the dataset, no emergency in train or val, no person "
    "in two splits, no test "
    "request in train or val, every prompt type in every split near its share (within "
    "binomial noise), files match the manifest.",
)
def distillation_dataset_integrity(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    validation = read_validation(store, run_id)
    rejected = set(validation.loc[~validation["accepted"].astype(bool), "prompt_id"])
    problems, counts = integrity_problems(store, run_id, rejected)
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems[:10]) or "ok",
        metadata={"counts": dg.MetadataValue.json(counts)},
    )


def integrity_problems(
    store: ArtifactStore, run_id: str, rejected: set[str]
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """What is wrong with a stored dataset (see ``distillation_dataset_integrity``), and
    its counts per split and prompt type."""
    manifest = store.read_json(*layout.distillation_manifest(run_id))
    problems = []
    users: dict[str, set[str]] = {}
    requests: dict[str, set[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        data = store.read_bytes(*layout.distillation_split(run_id, split))
        if hashlib.sha256(data).hexdigest() != manifest["files"][split]["sha256"]:
            problems.append(f"{split}.jsonl does not match the manifest")
        records = read_split(store, run_id, split)
        users[split] = {r["metadata"]["user_id"] for r in records}
        requests[split] = {normalise(r["metadata"]["request"]) for r in records}
        # The shares judge the split assignment: the emergencies withheld from train and val
        # and the records dropped (duplicates, leaked test requests) count where their
        # people were assigned.
        withheld = manifest.get("withheld", {}).get("by_split_and_type", {}).get(split, {})
        dropped = manifest.get("dropped", {}).get("by_split_and_type", {}).get(split, {})
        counts[split] = {
            t: sum(r["metadata"]["prompt_type"] == t for r in records)
            + withheld.get(t, 0)
            + dropped.get(t, 0)
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
    seen = requests["test"] & (requests["train"] | requests["val"])
    if seen:
        problems.append(f"{len(seen)} test requests also in train or val, e.g. {min(seen)!r}")
    people = sum(len(u) for u in users.values())
    for t in PROMPT_TYPES:
        total = sum(counts[s][t] for s in SPLITS)
        for split, share in SPLITS.items():
            # An empty split is a problem only where the run has people enough to expect one.
            expected = share * people >= SHARE_SIGMAS**2
            if total and (
                (counts[split][t] == 0 and expected)
                or abs(counts[split][t] / total - share) > share_tolerance(share, people)
            ):
                problems.append(
                    f"{split} holds {counts[split][t]} of {total} {t} records (target {share:.0%})"
                )
    return problems, counts


@dg.asset_check(
    asset=distillation_dataset,
    blocking=True,
    description=f"Exact and near-duplicate targets were dropped before the split, no two "
    f"records share a target, and duplicates were at most {MAX_DUPLICATE_SHARE:.0%} of the "
    "accepted answers.",
)
def distillation_dataset_duplicates(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    dropped = store.read_json(*layout.distillation_manifest(run_id))["dropped"]["duplicates"]
    problems = duplicate_problems(store, run_id)
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems)
        or f"{dropped['candidates'] - dropped['kept']} duplicates dropped "
        f"({dropped['duplicate_share']:.1%}), none left",
        metadata={
            "duplicate_share": dropped["duplicate_share"],
            "exact": dg.MetadataValue.json(dropped["exact_duplicates"]),
            "near": dg.MetadataValue.json(dropped["near_duplicates"]),
        },
    )


def duplicate_problems(store: ArtifactStore, run_id: str) -> list[str]:
    """Records that repeat another's target, or too many duplicates dropped."""
    dropped = store.read_json(*layout.distillation_manifest(run_id))["dropped"]["duplicates"]
    targets: dict[str, str] = {}
    repeated = []
    for split in SPLITS:
        for r in read_split(store, run_id, split):
            key = hashlib.sha256(
                f"{r['metadata']['output_type']}\n{r['messages'][-1]['content']}".encode()
            ).hexdigest()
            if key in targets:
                repeated.append((targets[key], r["id"]))
            targets[key] = r["id"]
    problems = []
    if repeated:
        problems.append(f"{len(repeated)} records repeat another's target, e.g. {repeated[0]}")
    if dropped["duplicate_share"] > MAX_DUPLICATE_SHARE:
        problems.append(
            f"{dropped['duplicate_share']:.1%} of accepted answers were duplicates "
            f"(more than {MAX_DUPLICATE_SHARE:.0%}): the teacher repeats itself"
        )
    return problems

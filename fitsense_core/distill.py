"""The distillation dataset: accepted teacher answers as chat-format SFT records.

Splits are grouped by person (nobody's prompts land in two splits) by a stable hash of
the person's profile, not their id (``request_space.person_split``): the same person
generated again lands in the same split, and test people were asked only held-out request
cores. A real (consented) person's split comes with their prompts
(``consented.stable_split``, a keyed hash of their id under the deployment's stable key):
they stay in it for good, whatever the run. Before the split, exact and near-duplicate
targets are dropped (:func:`deduplicate`); after it, any test record whose request also
occurs in train or validation is dropped (:func:`dataset_records`), so no test request
is seen in training. The manifest records counts, what was dropped and why, SHA-256 of
every file, the source run and the teacher that answered.

Emergency-level records are withheld from train and val (:func:`withhold_policy_answers`):
the safety policy answers emergencies itself at serving time and never calls the model, so
the student has nothing to learn from them. The test split keeps them, so the evaluation
still measures what an emergency is served. The manifest counts what was withheld.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.consented import PSEUDONYM_PREFIX
from fitsense_core.prompts import PROMPT_TYPES, TEMPLATE_VERSION, context_from_json
from fitsense_core.qa import ValidatedAnswer, assistant_content, shingles
from fitsense_core.request_space import SPLITS, person_split
from fitsense_core.safety import normalise

# The splits the student learns from (train) or is tuned on (val).
LEARNED_SPLITS = ("train", "val")
# Triage levels the policy answers without the model (inference.serve.calls_model).
POLICY_LEVELS = frozenset({"emergency"})
WITHHELD_REASON = (
    "emergency: the safety policy answers it at serving time and never calls the model"
)
# Two reply targets whose 5-word shingles overlap this much say the same thing.
NEAR_DUPLICATE_JACCARD = 0.9
# Near-duplicates are searched within a prompt type and topic, against at most this many
# kept targets of it (the cost stays linear in the run's size).
NEAR_DUPLICATE_WINDOW = 400


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    split: str
    messages: list[dict[str, str]]
    metadata: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.id, "messages": self.messages, "metadata": self.metadata},
            sort_keys=True,
            ensure_ascii=False,
        )


def split_of(prompt_context_json: str) -> str:
    """The split of the person a prompt is about: a real person's stable split (its
    ``origin``, :func:`fitsense_core.consented.stable_split`), else a synthetic person's by
    the stable hash of their profile."""
    origin = json.loads(prompt_context_json).get("origin") or {}
    if origin.get("split") in SPLITS:
        return origin["split"]
    profile, _plan, _sessions = context_from_json(prompt_context_json)
    return person_split(profile)


def deduplicate(
    accepted: Sequence[ValidatedAnswer],
    *,
    jaccard: float = NEAR_DUPLICATE_JACCARD,
    window: int = NEAR_DUPLICATE_WINDOW,
) -> tuple[list[ValidatedAnswer], dict[str, Any]]:
    """The answers whose target is neither an exact copy of an earlier one (any type) nor,
    for replies, a near-copy of one kept in its prompt type and topic; and what was
    dropped. Earlier: by prompt id, so the choice does not depend on the order given."""
    kept: list[ValidatedAnswer] = []
    seen: set[str] = set()
    windows: dict[tuple[str, str], list[set[str]]] = defaultdict(list)
    exact: Counter = Counter()
    near: Counter = Counter()
    for v in sorted(accepted, key=lambda v: v.prompt.prompt_id):
        target = assistant_content(v.prompt, v.answer)
        digest = hashlib.sha256(f"{v.prompt.output_type}\n{target}".encode()).hexdigest()
        if digest in seen:
            exact[v.prompt.prompt_type] += 1
            continue
        if v.prompt.output_type == "reply":
            grams = shingles(target)
            group = windows[(v.prompt.prompt_type, v.prompt.topic)]
            if any(len(grams & g) / max(1, len(grams | g)) >= jaccard for g in group[-window:]):
                near[v.prompt.prompt_type] += 1
                continue
            group.append(grams)
        seen.add(digest)
        kept.append(v)
    total = len(accepted)
    dropped = sum(exact.values()) + sum(near.values())
    return kept, {
        "candidates": total,
        "kept": len(kept),
        "exact_duplicates": dict(sorted(exact.items())),
        "near_duplicates": dict(sorted(near.items())),
        "duplicate_share": round(dropped / total, 4) if total else 0.0,
        "near_duplicate_jaccard": jaccard,
    }


def person_splits(accepted: Sequence[ValidatedAnswer]) -> dict[str, str]:
    """Each person's split, by the stable hash of their profile: decided over all accepted
    answers, before anything is dropped, so dropping a record never moves a person."""
    splits: dict[str, str] = {}
    for v in accepted:
        if v.prompt.user_id not in splits:
            splits[v.prompt.user_id] = split_of(v.prompt.context_json)
    if splits and "val" not in splits.values():
        # A small run can hash nobody into validation, and training needs it: the
        # training person first in id order moves there (never into test, whose people
        # were asked held-out requests).
        # Real people keep their stable split.
        train = sorted(
            u for u, s in splits.items() if s == "train" and not u.startswith(PSEUDONYM_PREFIX)
        )
        if len(train) > 1:
            splits[train[0]] = "val"
    return splits


def build_records(
    accepted: Sequence[ValidatedAnswer], splits: dict[str, str] | None = None
) -> list[DatasetRecord]:
    """One chat record per answer, in the split of the person it is for (``splits``:
    :func:`person_splits`, computed from ``accepted`` when not given)."""
    splits = splits if splits is not None else person_splits(accepted)
    records = []
    for v in sorted(accepted, key=lambda v: v.prompt.prompt_id):
        p, a = v.prompt, v.answer
        records.append(
            DatasetRecord(
                id=p.prompt_id,
                split=splits[p.user_id],
                messages=[*p.messages, {"role": "assistant", "content": assistant_content(p, a)}],
                metadata={
                    "user_id": p.user_id,
                    "run_id": p.run_id,
                    "prompt_type": p.prompt_type,
                    "topic": p.topic,
                    "output_type": p.output_type,
                    "expected_safety_level": p.expected_safety_level,
                    "expected_blocked_tags": list(p.expected_blocked_tags),
                    "days_per_week": p.days_per_week,
                    "slices": p.slices,
                    "teacher_provider": a.provider,
                    "teacher_model": a.model,
                    "teacher_source": a.source,
                    "prompt_hash": p.prompt_hash,
                    "request": p.request,
                    "context_json": p.context_json,
                },
            )
        )
    return records


def leaked_test_records(records: Sequence[DatasetRecord]) -> list[DatasetRecord]:
    """Test records whose request (normalised) also occurs in train or validation."""
    seen = {normalise(r.metadata["request"]) for r in records if r.split != "test"}
    return [r for r in records if r.split == "test" and normalise(r.metadata["request"]) in seen]


def dataset_records(
    accepted: Sequence[ValidatedAnswer],
) -> tuple[list[DatasetRecord], dict[str, Any]]:
    """The dataset's records: duplicates dropped before the split, then test records whose
    request was seen in training; and a report of both (for the manifest)."""
    splits = person_splits(accepted)
    kept, duplicates = deduplicate(accepted)
    records = build_records(kept, splits)
    leaked = {r.id for r in leaked_test_records(records)}
    kept_ids = {r.id for r in records if r.id not in leaked}
    by_split_type: dict[str, dict[str, int]] = defaultdict(dict)
    for (split, prompt_type), n in sorted(
        Counter(
            (splits[v.prompt.user_id], v.prompt.prompt_type)
            for v in accepted
            if v.prompt.prompt_id not in kept_ids
        ).items()
    ):
        by_split_type[split][prompt_type] = n
    return [r for r in records if r.id in kept_ids], {
        "duplicates": duplicates,
        "test_requests_seen_in_train": len(leaked),
        # Where the dropped records' people were assigned: the split shares are judged on
        # the assignment (distillation_dataset_integrity), and de-duplication drops more
        # from training people (test people were asked held-out requests, so their
        # answers repeat less).
        "by_split_and_type": dict(by_split_type),
    }


def withhold_policy_answers(
    records: Sequence[DatasetRecord],
) -> tuple[list[DatasetRecord], dict[str, Any]]:
    """``records`` without the policy-answered (emergency) ones in train and val, and what
    was withheld: count and counts by split and prompt type, for the manifest."""
    kept, withheld = [], []
    for record in records:
        policy = record.metadata["expected_safety_level"] in POLICY_LEVELS
        (withheld if policy and record.split in LEARNED_SPLITS else kept).append(record)
    by_split_type: dict[str, dict[str, int]] = defaultdict(dict)
    for (split, prompt_type), n in sorted(
        Counter((r.split, r.metadata["prompt_type"]) for r in withheld).items()
    ):
        by_split_type[split][prompt_type] = n
    return kept, {
        "count": len(withheld),
        "reason": WITHHELD_REASON,
        "by_split_and_type": dict(by_split_type),
    }


def write_dataset(
    store: ArtifactStore,
    run_id: str,
    records: Sequence[DatasetRecord],
    *,
    teachers: dict[str, int],
    rejected: int,
    dropped: dict[str, Any] | None = None,
    withheld: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """JSONL per split and a manifest under datasets/distillation/<run_id>/ (``dropped``:
    what :func:`dataset_records` dropped; ``withheld``: what :func:`withhold_policy_answers`
    left out)."""
    files = {}
    for split in SPLITS:
        lines = [r.to_json() for r in records if r.split == split]
        data = ("\n".join(lines) + "\n").encode() if lines else b""
        store.write_bytes(data, *layout.distillation_split(run_id, split))
        files[split] = {
            "file": f"{split}.jsonl",
            "records": len(lines),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    by_split_type = {
        split: {
            t: sum(1 for r in records if r.split == split and r.metadata["prompt_type"] == t)
            for t in PROMPT_TYPES
        }
        for split in SPLITS
    }
    users = {
        split: len({r.metadata["user_id"] for r in records if r.split == split}) for split in SPLITS
    }
    content = hashlib.sha256("".join(f["sha256"] for f in files.values()).encode()).hexdigest()
    manifest = {
        "run_id": run_id,
        "source_run_ids": sorted({r.metadata["run_id"] for r in records}),
        "records": len(records),
        "rejected": rejected,
        "withheld": withheld or {"count": 0, "reason": WITHHELD_REASON, "by_split_and_type": {}},
        "files": files,
        "content_sha256": content,
        "counts_by_split_and_type": by_split_type,
        "users_by_split": users,
        "teachers": teachers,
        "prompt_template_version": TEMPLATE_VERSION,
        "split_rule": "synthetic people: sha256 of the person's stable profile "
        "(request_space.person_split); consented people: HMAC-SHA256 of the id under the "
        "deployment's stable key (consented.stable_split)",
        "split_shares": SPLITS,
        "dropped": dropped or {},
        "format": "chat messages (system, user, assistant) + metadata, one JSON object per line",
    }
    store.write_json(manifest, *layout.distillation_manifest(run_id))
    return manifest


def read_split(store: ArtifactStore, run_id: str, split: str) -> list[dict[str, Any]]:
    data = store.read_bytes(*layout.distillation_split(run_id, split))
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def consented_held_out(store: ArtifactStore, run_id: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` test-split records of real people who opted in: requests people
    actually made, held out of training by their stable split, for the evaluation to
    report on their own. The ones a person rated thumbs-down come first (they are what
    the served model got wrong), then by id."""
    if limit <= 0 or not store.exists(*layout.distillation_split(run_id, "test")):
        return []

    def rating(record: dict[str, Any]) -> str | None:
        origin = json.loads(record["metadata"].get("context_json") or "{}").get("origin") or {}
        return (origin.get("feedback") or {}).get("rating")

    real = [
        r
        for r in read_split(store, run_id, "test")
        if str(r["metadata"].get("user_id", "")).startswith(PSEUDONYM_PREFIX)
    ]
    real.sort(key=lambda r: (rating(r) != "down", r["id"]))
    return [dict(r, rated_down=rating(r) == "down") for r in real[:limit]]

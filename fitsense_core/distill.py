"""The distillation dataset: accepted teacher answers as chat-format SFT records.

Splits are grouped by user (nobody's prompts land in two splits) and stratified by
prompt type: users are taken in a seeded hash order and each goes to the split whose
per-type counts are furthest below its target share. The manifest records counts,
SHA-256 of every file, the source run and the teacher that answered.

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
from fitsense_core.prompts import PROMPT_TYPES, TEMPLATE_VERSION
from fitsense_core.qa import ValidatedAnswer, assistant_content

SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}
# The splits the student learns from (train) or is tuned on (val).
LEARNED_SPLITS = ("train", "val")
# Triage levels the policy answers without the model (inference.serve.calls_model).
POLICY_LEVELS = frozenset({"emergency"})
WITHHELD_REASON = (
    "emergency: the safety policy answers it at serving time and never calls the model"
)


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


def assign_splits(
    user_types: dict[str, Counter], seed: int, shares: dict[str, float] = SPLITS
) -> dict[str, str]:
    """Each user to one split, keeping every prompt type near the target shares."""
    order = sorted(user_types, key=lambda u: hashlib.sha256(f"{seed}/{u}".encode()).hexdigest())
    counts = {s: Counter() for s in shares}
    totals: Counter = Counter()
    assignment = {}
    for user in order:
        types = user_types[user]
        totals.update(types)

        def deficit(split: str, types: Counter = types) -> float:
            return sum(shares[split] * totals[t] - counts[split][t] for t in types)

        chosen = max(shares, key=lambda s: (deficit(s), shares[s]))
        counts[chosen].update(types)
        assignment[user] = chosen
    return assignment


def build_records(accepted: Sequence[ValidatedAnswer], seed: int) -> list[DatasetRecord]:
    user_types: dict[str, Counter] = defaultdict(Counter)
    for v in accepted:
        user_types[v.prompt.user_id][v.prompt.prompt_type] += 1
    splits = assign_splits(user_types, seed)
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
    seed: int,
    withheld: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """JSONL per split and a manifest under datasets/distillation/<run_id>/ (``withheld``:
    what :func:`withhold_policy_answers` left out)."""
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
        "split_seed": seed,
        "split_shares": SPLITS,
        "format": "chat messages (system, user, assistant) + metadata, one JSON object per line",
    }
    store.write_json(manifest, *layout.distillation_manifest(run_id))
    return manifest


def read_split(store: ArtifactStore, run_id: str, split: str) -> list[dict[str, Any]]:
    data = store.read_bytes(*layout.distillation_split(run_id, split))
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

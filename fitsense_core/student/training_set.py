"""The compact training set: exactly what the student trains on, saved, hashed and counted.

It is built once from a run's distillation dataset (train and val records) by
:func:`fitsense_core.student.data.sft_example` — the compact prompt and the target the
student should learn — and measured in tokens with the base model's own tokenizer and chat
template. An example longer than ``max_length`` is left out (truncation would cut the
answer), and the manifest says which and why; when any group of prompt type × days trained
per week loses more than :data:`MAX_GROUP_LOSS` of its examples, the set is unfit to train
on (:func:`problems`, the blocking asset check, and training itself refuse it): before this
was measured, a 512-token limit silently dropped every update for people who train 6-7
days a week.

Stored under ``datasets/distillation/<run_id>/student/``: ``train.jsonl`` and
``val.jsonl`` (one example per line, with its id, group and token count), the compact-plan
``codebook.json`` the targets are written with, and ``manifest.json`` (SHA-256 of each
file, counts, token lengths, ``max_length``, what was dropped by reason and by group).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import LEARNED_SPLITS, POLICY_LEVELS
from fitsense_core.errors import DataValidationError
from fitsense_core.student.compact import Codebook
from fitsense_core.student.data import REPLY_TARGET_CHARS, safety_preamble, sft_example

# Measured on a 1,200-record run with the SmolLM2 tokenizer: the longest examples are plan
# updates for people training 6-7 days a week (the current plan in the prompt and a
# 6-7 day plan as the target); 512 dropped all of them.
DEFAULT_MAX_LENGTH = 1024
# The most a group (prompt type × days per week) may lose to max_length.
MAX_GROUP_LOSS = 0.10
DAYS_GROUPS = ((1, 3, "1-3"), (4, 5, "4-5"), (6, 7, "6-7"))
TOO_LONG = "longer than max_length"
FORMAT = (
    "one example per line: id, prompt (system, user), completion (assistant), tokens "
    "(prompt and completion in the base model's chat template), group, prompt_type, "
    "output_type, safety_level, days_per_week"
)

TokenCounter = Callable[[list[dict[str, str]]], int]


def days_group(days_per_week: int) -> str:
    for low, high, name in DAYS_GROUPS:
        if low <= days_per_week <= high:
            return name
    raise DataValidationError(f"days per week {days_per_week} is outside 1-7")


def group_of(prompt_type: str, days_per_week: int) -> str:
    """The group an example's loss is counted in: prompt type × days trained per week."""
    return f"{prompt_type} x {days_group(days_per_week)} days"


def tokenizer_counter(tokenizer_dir: Path) -> TokenCounter:
    """Counts an example's tokens as training does: the conversation in the base model's
    chat template, tokenized by its own tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    def count(messages: list[dict[str, str]]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        return len(tokenizer(text).input_ids)

    return count


@dataclass(frozen=True)
class TrainingSet:
    """Kept examples per split, what was dropped and why, and the rules it was built by."""

    examples: dict[str, list[dict[str, Any]]]
    dropped: list[dict[str, Any]]
    offered: dict[str, list[dict[str, Any]]]  # every example measured, kept or not
    max_length: int
    codebook: Codebook


def build_training_set(
    records: Mapping[str, Sequence[dict[str, Any]]],
    codebook: Codebook,
    count_tokens: TokenCounter,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> TrainingSet:
    """Compact examples of the train and val records (``records`` by split), each measured
    in tokens; the ones over ``max_length`` are dropped and listed with the reason. Nothing
    else is filtered here: what should not be learned is the checks' to refuse
    (:func:`problems`). A reply target too long to learn whole raises
    (:class:`~fitsense_core.student.data.TargetError`)."""
    examples: dict[str, list[dict[str, Any]]] = {}
    offered: dict[str, list[dict[str, Any]]] = {}
    dropped: list[dict[str, Any]] = []
    for split in LEARNED_SPLITS:
        examples[split], offered[split] = [], []
        for record in records.get(split, ()):
            meta = record["metadata"]
            sft = sft_example(record, codebook)
            row = {
                "id": sft["id"],
                "prompt": sft["prompt"],
                "completion": sft["completion"],
                "tokens": count_tokens(sft["prompt"] + sft["completion"]),
                "group": group_of(meta["prompt_type"], int(meta["days_per_week"])),
                "prompt_type": meta["prompt_type"],
                "output_type": meta["output_type"],
                "safety_level": meta["expected_safety_level"],
                "days_per_week": int(meta["days_per_week"]),
            }
            offered[split].append(row)
            if row["tokens"] > max_length:
                dropped.append(
                    {
                        "id": row["id"],
                        "split": split,
                        "group": row["group"],
                        "tokens": row["tokens"],
                        "reason": TOO_LONG,
                    }
                )
            else:
                examples[split].append(row)
    return TrainingSet(examples, dropped, offered, max_length, codebook)


def group_losses(
    offered: Mapping[str, Sequence[dict[str, Any]]], dropped: Sequence[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per group (train and val together): examples offered, dropped, and the share lost."""
    totals = Counter(row["group"] for rows in offered.values() for row in rows)
    lost = Counter(d["group"] for d in dropped)
    return {
        group: {
            "offered": totals[group],
            "dropped": lost[group],
            "loss": round(lost[group] / totals[group], 4),
        }
        for group in sorted(totals)
    }


def _jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    lines = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _token_stats(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    tokens = sorted(r["tokens"] for r in rows)
    if not tokens:
        return {"examples": 0}
    return {
        "examples": len(tokens),
        "min": tokens[0],
        "p50": tokens[len(tokens) // 2],
        "p95": tokens[min(len(tokens) - 1, int(0.95 * len(tokens)))],
        "max": tokens[-1],
        "mean": round(statistics.fmean(tokens), 1),
    }


def write_training_set(
    store: ArtifactStore,
    run_id: str,
    training_set: TrainingSet,
    *,
    dataset_sha256: str,
    base_digest: str,
) -> dict[str, Any]:
    """The examples, the codebook and the manifest under
    ``datasets/distillation/<run_id>/student/``; returns the manifest."""
    files: dict[str, dict[str, Any]] = {}
    for split in LEARNED_SPLITS:
        data = _jsonl(training_set.examples[split])
        store.write_bytes(data, *layout.student_training_split(run_id, split))
        files[split] = {
            "file": f"{split}.jsonl",
            "examples": len(training_set.examples[split]),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    codebook = training_set.codebook.to_json().encode()
    store.write_bytes(codebook, *layout.student_training_codebook(run_id))
    files["codebook"] = {"file": layout.CODEBOOK, "sha256": hashlib.sha256(codebook).hexdigest()}
    content = hashlib.sha256("".join(f["sha256"] for f in files.values()).encode()).hexdigest()
    losses = group_losses(training_set.offered, training_set.dropped)
    manifest = {
        "run_id": run_id,
        "dataset_sha256": dataset_sha256,
        "base_model_digest": base_digest,
        "content_sha256": content,
        "files": files,
        "max_length": training_set.max_length,
        "max_group_loss": MAX_GROUP_LOSS,
        "reply_target_chars": REPLY_TARGET_CHARS,
        "offered": {s: len(rows) for s, rows in training_set.offered.items()},
        "kept": {s: len(rows) for s, rows in training_set.examples.items()},
        "tokens": {s: _token_stats(rows) for s, rows in training_set.offered.items()},
        "dropped": {
            "count": len(training_set.dropped),
            "by_reason": dict(Counter(d["reason"] for d in training_set.dropped)),
            "by_group": dict(sorted(Counter(d["group"] for d in training_set.dropped).items())),
            "examples": training_set.dropped,
        },
        "groups": losses,
        "groups_over_limit": [g for g, v in losses.items() if v["loss"] > MAX_GROUP_LOSS],
        "format": FORMAT,
    }
    store.write_json(manifest, *layout.student_training_manifest(run_id))
    return manifest


def read_training_set(
    store: ArtifactStore, run_id: str
) -> tuple[dict[str, list[dict[str, Any]]], Codebook, dict[str, Any]]:
    """The stored examples by split, the codebook and the manifest; raises when a file does
    not match the SHA-256 the manifest recorded."""
    manifest = store.read_json(*layout.student_training_manifest(run_id))
    parts = {s: layout.student_training_split(run_id, s) for s in LEARNED_SPLITS}
    parts["codebook"] = layout.student_training_codebook(run_id)
    data = {name: store.read_bytes(*p) for name, p in parts.items()}
    for name, content in data.items():
        if hashlib.sha256(content).hexdigest() != manifest["files"][name]["sha256"]:
            raise DataValidationError(
                f"{store.uri(*parts[name])} does not match the training set's manifest"
            )
    examples = {
        s: [json.loads(line) for line in data[s].decode().splitlines() if line.strip()]
        for s in LEARNED_SPLITS
    }
    return examples, Codebook.from_json(data["codebook"].decode()), manifest


def problems(
    examples: Mapping[str, Sequence[dict[str, Any]]], manifest: dict[str, Any]
) -> list[str]:
    """Why the stored set is unfit to train on (empty when it is fit): an emergency the
    policy answers, a reply target that opens with a safety preamble the server adds itself
    or is too long to learn whole, an example over ``max_length``, a group that lost more
    than its share to ``max_length``, counts that disagree with the manifest."""
    found: list[str] = []
    max_length = manifest["max_length"]
    for split in LEARNED_SPLITS:
        rows = examples.get(split, [])
        recorded = manifest["kept"].get(split)
        if len(rows) != recorded:
            found.append(f"{split} holds {len(rows)} examples, the manifest says {recorded}")
        for row in rows:
            where = f"{split} {row['id']}"
            if row["safety_level"] in POLICY_LEVELS:
                found.append(f"{where} is an emergency, which the policy answers itself")
            if row["output_type"] == "reply":
                target = row["completion"][-1]["content"]
                preamble = safety_preamble(target)
                if preamble:
                    found.append(f"{where}: the target opens with a safety preamble {preamble!r}")
                if len(target) > REPLY_TARGET_CHARS:
                    found.append(
                        f"{where}: the reply target is {len(target)} characters, over "
                        f"{REPLY_TARGET_CHARS}"
                    )
            if row["tokens"] > max_length:
                found.append(f"{where} is {row['tokens']} tokens, over max_length {max_length}")
    for group, loss in manifest["groups"].items():
        if loss["loss"] > manifest["max_group_loss"]:
            found.append(
                f"{group} lost {loss['dropped']} of {loss['offered']} examples "
                f"({loss['loss']:.0%}) to max_length {max_length}, over "
                f"{manifest['max_group_loss']:.0%}"
            )
    return found


def assert_trainable(manifest: dict[str, Any]) -> None:
    """Raises when the manifest says a group lost more than its share: training on such a
    set would silently not learn those people's requests."""
    over = manifest.get("groups_over_limit") or []
    if over:
        detail = "; ".join(
            f"{g}: {manifest['groups'][g]['dropped']} of {manifest['groups'][g]['offered']}"
            for g in over
        )
        raise DataValidationError(
            f"the training set lost more than {manifest['max_group_loss']:.0%} of a group's "
            f"examples to max_length {manifest['max_length']} ({detail}); raise max_length "
            "or shorten the examples"
        )

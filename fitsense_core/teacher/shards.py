"""Splitting one run's prompts over N teacher shards and merging their answers back.

- a prompt's shard is ``int(prompt_hash[:8], 16) % N``: a function of the prompt alone, so
  a shard answers the same prompts on every retry, the shards are disjoint, together they
  cover every prompt, and prompts with the same hash (which share one cache entry) always
  land in the same shard;
- each shard runs :func:`~fitsense_core.teacher.runner.run_teacher` with ``1/N`` of the
  budget (:func:`shard_budget`), so N shards side by side never ask more of the provider
  than one step with the whole budget;
- :func:`merge_shards` puts the answers back in prompt order, checking that every shard
  answered exactly the prompts it was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from fitsense_core.errors import ConfigurationError, DataValidationError
from fitsense_core.prompts import Prompt
from fitsense_core.settings import env_int
from fitsense_core.teacher.base import TeacherAnswer

SHARDS_ENV = "FITSENSE_TEACHER_SHARDS"
MAX_SHARDS = 64
ANSWER_COLUMNS = tuple(TeacherAnswer.__dataclass_fields__)
_INT_COLUMNS = ("attempts", "latency_ms", "prompt_tokens", "completion_tokens")


def resolve_shards(configured: int, env: Mapping[str, str]) -> int:
    """The number of teacher shards: ``configured`` (the resource's ``shards``) unless it is
    0, else ``FITSENSE_TEACHER_SHARDS``, else 1; it must lie in ``[1, 64]``."""
    if configured == 0:
        return env_int(env, SHARDS_ENV, 1, 1, MAX_SHARDS)
    if not 1 <= configured <= MAX_SHARDS:
        raise ConfigurationError(
            f"the teacher's shards must be between 1 and {MAX_SHARDS} (0: {SHARDS_ENV}), "
            f"got {configured}"
        )
    return configured


def shard_of(prompt_hash: str, shards: int) -> int:
    """The shard (0 … shards-1) that answers the prompt with this hash."""
    return int(prompt_hash[:8], 16) % shards


def split_prompts(prompts: Sequence[Prompt], shards: int) -> list[list[Prompt]]:
    """The prompts of each shard, each list in prompt order."""
    parts: list[list[Prompt]] = [[] for _ in range(shards)]
    for prompt in prompts:
        parts[shard_of(prompt.prompt_hash, shards)].append(prompt)
    return parts


def shard_key(shard: int) -> str:
    """The mapping key of a shard's step: ``shard_0``, ``shard_1``, …"""
    return f"shard_{shard}"


def shard_from_key(key: str) -> int:
    prefix, _, number = key.partition("_")
    if prefix != "shard" or not number.isdigit():
        raise ValueError(f"not a teacher shard key: {key!r}")
    return int(number)


@dataclass(frozen=True)
class ShardBudget:
    """What one of N shards may ask of the provider."""

    concurrency: int
    tokens_per_minute: int | None


def shard_budget(concurrency: int, tokens_per_minute: int | None, shards: int) -> ShardBudget:
    """``max(1, concurrency // N)`` requests in flight and ``tokens_per_minute // N`` tokens a
    minute (none when the whole has none). Each bucket starts full and refills at 1/N of the
    rate, so N of them never exceed one bucket of the whole, bursts included."""
    per_shard_tokens = None
    if tokens_per_minute:
        per_shard_tokens = tokens_per_minute // shards
        if per_shard_tokens < 1:
            raise ConfigurationError(
                f"tokens_per_minute {tokens_per_minute} leaves less than one token a minute "
                f"to each of {shards} teacher shards"
            )
    return ShardBudget(max(1, concurrency // shards), per_shard_tokens)


def merge_shards(
    prompts: Sequence[Prompt], parts: Sequence[Sequence[TeacherAnswer]]
) -> list[TeacherAnswer]:
    """One answer per prompt, in prompt order, from the answers of ``len(parts)`` shards.

    Raises DataValidationError unless every shard answered exactly its own prompts, in order
    (a missing, stale or foreign shard file)."""
    shards = len(parts)
    expected = split_prompts(prompts, shards)
    for shard, (answers, own) in enumerate(zip(parts, expected, strict=True)):
        if [a.prompt_id for a in answers] != [p.prompt_id for p in own]:
            raise DataValidationError(
                f"teacher shard {shard} of {shards} holds {len(answers)} answers that are not "
                f"its {len(own)} prompts in order"
            )
    positions = [iter(answers) for answers in parts]
    return [next(positions[shard_of(p.prompt_hash, shards)]) for p in prompts]


def answers_frame(answers: Sequence[TeacherAnswer]) -> pd.DataFrame:
    """Answers as a table, with every column even when there are none."""
    return pd.DataFrame([a.record() for a in answers], columns=list(ANSWER_COLUMNS))


def answers_from_frame(frame: pd.DataFrame) -> list[TeacherAnswer]:
    """The answers of a table written by :func:`answers_frame` (nulls back to None)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        TeacherAnswer(**{k: int(row[k]) if k in _INT_COLUMNS else row[k] for k in ANSWER_COLUMNS})
        for row in rows
    ]

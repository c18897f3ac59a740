"""The labelled set of everyday coaching questions (``data/coach_questions.jsonl``).

Each line: ``id``, ``group`` (paraphrases of one question share it), ``question``,
``topics`` (the knowledge-base topics a good answer may be on), ``lang`` and ``style``
(plain, typo, slang, terse, rambling, other_language). None is an emergency or needs a
doctor's clearance: every answer to them must be on topic and free of alarm.

Splits are by group, so paraphrases of one question never straddle them: a group's
sha256 decides (60 % train, 20 % validation, 20 % test). Thresholds are chosen on train
(or validation); the test split only reports.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

QUESTIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "coach_questions.jsonl"
SPLITS = ("train", "validation", "test")


def split_of(group: str) -> str:
    bucket = hashlib.sha256(group.encode()).digest()[0] % 10
    return "train" if bucket < 6 else "validation" if bucket < 8 else "test"


@cache
def _load(path: str) -> tuple[dict[str, Any], ...]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                row["split"] = split_of(row["group"])
                rows.append(row)
    return tuple(rows)


def load_questions(split: str | None = None, path: Path = QUESTIONS_FILE) -> list[dict[str, Any]]:
    """The labelled questions (of one split when ``split`` is given)."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    rows = _load(str(path))
    return [dict(r) for r in rows if split is None or r["split"] == split]

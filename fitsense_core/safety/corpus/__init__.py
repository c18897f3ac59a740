"""The labelled triage corpus: hand-written requests at the four levels, composed into
``requests.jsonl`` by :mod:`.compose` (see ``docs/triage.md``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from fitsense_core.safety.corpus.compose import CORPUS_FILE


@dataclass(frozen=True)
class CorpusRow:
    id: str
    case: str
    split: str
    level: str
    category: str
    lang: str
    self_harm: bool
    variant: str
    text: str


def corpus_bytes() -> bytes:
    return CORPUS_FILE.read_bytes()


def corpus_hash(data: bytes | None = None) -> str:
    """sha256 of the corpus file: the triage model's data version."""
    return hashlib.sha256(corpus_bytes() if data is None else data).hexdigest()


def load_corpus(data: bytes | None = None) -> list[CorpusRow]:
    raw = corpus_bytes() if data is None else data
    return [CorpusRow(**json.loads(line)) for line in raw.decode("utf-8").splitlines() if line]

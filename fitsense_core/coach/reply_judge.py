"""Whether a model's coaching reply answers the question and stays within what is known.

Three measures, each able to fail (``tests/test_reply_judge.py`` plants a reply each one
rejects):

- **relevance**: cosine similarity between the question's and the reply's sentence
  embeddings (the multilingual encoder of :mod:`fitsense_core.coach.retrieval`), at least
  :data:`RELEVANCE_THRESHOLD`. The threshold is calibrated on labelled pairs built from the
  labelled question set (``data/coach_questions.jsonl``): a question with a knowledge
  record of one of its labelled topics is a relevant pair, with one of a topic it is not
  labelled with an irrelevant one. :func:`calibrate` picks it on the training split,
  together with citation agreement below (the highest threshold at which the two accept
  95 % of the relevant pairs); the test reports the held-out split.
- **topic agreement**: the reply's own closest knowledge record is on a topic the
  question's grounding allows (:data:`RELATED_TOPICS`).
- **citation agreement** (:func:`agreement`): one of the records closest to the reply is
  one the question itself retrieves. A reply that agrees so is taken as relevant and on
  topic whatever its cosine: it states what the question's own facts state. Without it,
  the two checks above decide.
- **grounded numbers**: every number the reply states is one the grounded answer, the
  retrieved records, the question or the person's own data states (within 5 %).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fitsense_core.coach import retrieval
from fitsense_core.coach.knowledge_base import Record
from fitsense_core.profile import UserProfile

# Calibrated by :func:`calibrate` on the training split of the labelled pairs (see the
# module docstring); tests/test_reply_judge.py checks it is still the calibrated value.
RELEVANCE_THRESHOLD = 0.34
# Topics an answer to a question on the key may also be filed under.
RELATED_TOPICS: dict[str, frozenset[str]] = {
    "training": frozenset({"training", "progression", "cardio", "recovery", "technique"}),
    "progression": frozenset({"progression", "training", "recovery"}),
    "recovery": frozenset({"recovery", "sleep", "training", "injury", "nutrition"}),
    "sleep": frozenset({"sleep", "recovery"}),
    "nutrition": frozenset({"nutrition", "supplements", "recovery"}),
    "supplements": frozenset({"supplements", "nutrition"}),
    "technique": frozenset({"technique", "injury", "training"}),
    "injury": frozenset({"injury", "technique", "recovery", "training"}),
    "cardio": frozenset({"cardio", "training", "recovery"}),
    "motivation": frozenset({"motivation", "training", "progression"}),
}
# Citation agreement: a reply agrees with its question when one of its REPLY_RECORDS
# closest records is among the question's QUESTION_RECORDS retrieved ones.
REPLY_RECORDS = 2
QUESTION_RECORDS = 5
NUMBER_TOLERANCE = 0.05
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?")

OFF_TOPIC = "off_topic"
IRRELEVANT = "irrelevant"
UNGROUNDED_NUMBER = "ungrounded_number"


@dataclass(frozen=True)
class Verdict:
    relevance: float
    reply_topic: str | None
    problems: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def numbers_in(text: str) -> list[float]:
    return [float(n.replace(",", ".")) for n in _NUMBER.findall(text)]


def profile_numbers(profile: UserProfile) -> set[float]:
    """The numbers a person's own data states."""
    p = profile
    s = p.signals
    values = [p.age, p.height_cm, p.days_per_week, p.session_length_min, p.weight_kg]
    values += [
        s.sleep_hours,
        s.sleep_target_hours,
        s.calories,
        s.calorie_target,
        s.weight_trend_kg_per_week,
        s.soreness,
        s.energy,
        s.sessions_per_week,
    ]
    return {round(float(v), 1) for v in values if v is not None}


def _grounded(number: float, allowed: Iterable[float]) -> bool:
    return any(abs(number - a) <= max(NUMBER_TOLERANCE * abs(a), 0.05) for a in allowed)


def ungrounded_numbers(
    reply: str, allowed: set[float], ranges: Iterable[tuple[float, float]] = ()
) -> list[float]:
    """The reply's numbers that nothing allowed states (within :data:`NUMBER_TOLERANCE`)
    and that fall in none of ``ranges`` (a record's "1.4-2.0 g per kg" grounds 1.6)."""
    ranges = list(ranges)
    return [
        n
        for n in numbers_in(reply)
        if not _grounded(n, allowed) and not any(lo <= n <= hi for lo, hi in ranges)
    ]


def relevance(question: str, reply: str) -> float:
    vectors = retrieval.embed([question, reply])
    return float(vectors[0] @ vectors[1])


def agreement(reply: str, retrieved: Sequence[retrieval.Hit]) -> tuple[str, ...]:
    """The records among the :data:`REPLY_RECORDS` closest to ``reply`` that the question
    also retrieved (``retrieved``): a reply that states what the question's own records
    state answers it, even in words the question does not share."""
    wanted = {h.record.id for h in retrieved}
    closest = retrieval.index().search(reply, None, k=REPLY_RECORDS)
    return tuple(h.record.id for h in closest if h.record.id in wanted)


def reply_topic(reply: str) -> str | None:
    hits = retrieval.index().search(reply, None, k=1)
    return hits[0].record.topic if hits else None


def judge(
    question: str,
    reply: str,
    *,
    profile: UserProfile,
    grounded_answer: str,
    topic: str,
) -> Verdict:
    """Whether ``reply`` may be shown for ``question``: relevant, on ``topic`` (the
    knowledge-base topic of the grounded answer) or one related to it, and with every
    number grounded in ``grounded_answer``, the records retrieved for the question, the
    question itself or the person's data."""
    problems: list[tuple[str, str]] = []
    retrieved = retrieval.retrieve(question, profile, k=QUESTION_RECORDS)
    shared = agreement(reply, retrieved)
    score = relevance(question, reply)
    if score < RELEVANCE_THRESHOLD and not shared:
        problems.append(
            (
                IRRELEVANT,
                f"relevance {score:.2f} < {RELEVANCE_THRESHOLD} to the question, and none of "
                "the records closest to the reply is one the question retrieves",
            )
        )
    found = reply_topic(reply)
    if (
        found is not None
        and found not in RELATED_TOPICS.get(topic, frozenset({topic}))
        and not shared
    ):
        problems.append((OFF_TOPIC, f"the reply is about {found}; the question about {topic}"))
    allowed = set(numbers_in(grounded_answer)) | set(numbers_in(question))
    allowed |= profile_numbers(profile)
    ranges: list[tuple[float, float]] = []
    for hit in retrieved:
        allowed |= hit.record.numbers()
        ranges += list(hit.record.quantities.values())
    stray = ungrounded_numbers(reply, allowed, ranges)
    if stray:
        shown = ", ".join(f"{n:g}" for n in stray[:3])
        problems.append(
            (
                UNGROUNDED_NUMBER,
                f"states {shown}, which no retrieved fact or the person's data does",
            )
        )
    return Verdict(round(score, 4), found, tuple(problems))


# --- calibration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    question: str
    answer: str
    relevant: bool
    group: str


def labelled_pairs(questions: Sequence[dict], records: Sequence[Record]) -> list[Pair]:
    """For each labelled question, a relevant pair: the question with the closest record
    of a topic it is labelled with (an answer that answers it), and an irrelevant pair:
    the question with a record of a topic unrelated to its labels (an answer about
    something else; chosen by the question's position, so the pairs are the same every
    time). The hardest wrong answers, close in words but on another topic, are the topic
    check's to catch (tests/test_reply_judge.py)."""
    records = list(records)
    matrix = retrieval.embed([r.text for r in records])
    asked = retrieval.embed([q["question"] for q in questions])
    sims = asked @ matrix.T
    pairs = []
    for i, q in enumerate(questions):
        allowed = set().union(*(RELATED_TOPICS.get(t, frozenset({t})) for t in q["topics"]))
        own = [j for j, r in enumerate(records) if r.topic in q["topics"]]
        other = [j for j, r in enumerate(records) if r.topic not in allowed]
        if not own or not other:
            continue
        mine = max(own, key=lambda j: sims[i, j])
        theirs = other[(i * 7) % len(other)]
        pairs.append(Pair(q["question"], records[mine].text, True, q["group"]))
        pairs.append(Pair(q["question"], records[theirs].text, False, q["group"]))
    return pairs


def pair_scores(pairs: Sequence[Pair]) -> np.ndarray:
    questions = retrieval.embed([p.question for p in pairs])
    answers = retrieval.embed([p.answer for p in pairs])
    return np.einsum("ij,ij->i", questions, answers)


def pair_agreement(pairs: Sequence[Pair]) -> np.ndarray:
    """Whether each pair's answer agrees with its question (:func:`agreement`; the
    question's records retrieved for anyone)."""
    return np.array(
        [
            bool(agreement(p.answer, retrieval.retrieve(p.question, None, k=QUESTION_RECORDS)))
            for p in pairs
        ]
    )


def calibrate(
    scores: np.ndarray, relevant: np.ndarray, agreed: np.ndarray, *, keep: float = 0.95
) -> float:
    """The highest threshold (two decimals) that, with the pairs citation agreement accepts
    (``agreed``), accepts at least ``keep`` of the relevant pairs: an answer that answers is
    rarely replaced, and everything below it that does not agree is."""
    others = np.sort(scores[relevant & ~agreed])
    misses = int(np.floor((1 - keep) * relevant.sum()))
    if misses >= len(others):
        return 1.0
    cut = others[misses]
    return float(np.floor(round(float(cut), 6) * 100) / 100)


def rates(
    scores: np.ndarray, relevant: np.ndarray, agreed: np.ndarray, threshold: float
) -> dict[str, float]:
    accepted = (scores >= threshold) | agreed
    return {
        "relevant_accepted": float(accepted[relevant].mean()),
        "irrelevant_rejected": float((~accepted[~relevant]).mean()),
    }

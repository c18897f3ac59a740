"""The reply judge and retrieval: thresholds are the ones calibration picks on the
training split, the held-out split is reported, and each check rejects a planted reply."""

from __future__ import annotations

import numpy as np
import pytest

from fitsense_core.coach import reply_judge, retrieval
from fitsense_core.coach.answers import answer_question, grounding
from fitsense_core.coach.knowledge_base import knowledge_base
from fitsense_core.coach.questions import load_questions
from fitsense_core.coach.reply_judge import (
    IRRELEVANT,
    OFF_TOPIC,
    RELEVANCE_THRESHOLD,
    UNGROUNDED_NUMBER,
    calibrate,
    labelled_pairs,
    pair_agreement,
    pair_scores,
    rates,
)
from fitsense_core.coach.retrieval import calibrate_min_score
from fitsense_core.inference import serve
from fitsense_core.profile import RecentSignals, UserProfile
from fitsense_core.safety import triage
from fitsense_core.student.data import live_task

PERSON = UserProfile(
    user_id="judge",
    age=34,
    sex="F",
    height_cm=168,
    activity_level="moderately_active",
    goals=("muscle_gain",),
    experience="intermediate",
    days_per_week=3,
    session_length_min=60,
    equipment=frozenset({"dumbbell", "bench"}),
    weight_kg=64.0,
    signals=RecentSignals(sleep_hours=6.4, sleep_target_hours=8.0),
)


def _pairs(split: str):
    pairs = labelled_pairs(load_questions(split), knowledge_base().records)
    scores = pair_scores(pairs)
    relevant = np.array([p.relevant for p in pairs])
    return scores, relevant, pair_agreement(pairs)


def test_relevance_threshold_is_calibrated_on_train_and_holds_out() -> None:
    scores, relevant, agreed = _pairs("train")
    assert len(scores) >= 400
    assert calibrate(scores, relevant, agreed) == pytest.approx(RELEVANCE_THRESHOLD, abs=0.011)
    held = rates(*_pairs("test"), RELEVANCE_THRESHOLD)
    print("held-out relevance:", held)
    assert held["relevant_accepted"] >= 0.9
    assert held["irrelevant_rejected"] >= 0.9


def test_citation_agreement_rescues_what_cosine_alone_would_reject_and_nothing_else() -> None:
    scores, relevant, agreed = _pairs("validation")
    cosine_only = rates(scores, relevant, np.zeros_like(agreed), RELEVANCE_THRESHOLD)
    both = rates(scores, relevant, agreed, RELEVANCE_THRESHOLD)
    print("validation, cosine alone:", cosine_only, "with agreement:", both)
    # Agreement keeps relevant answers the cosine floor would drop, and it rarely
    # accepts an irrelevant one: an answer about another topic seldom states one of the
    # question's own records.
    assert both["relevant_accepted"] >= cosine_only["relevant_accepted"] + 0.1
    assert both["irrelevant_rejected"] >= cosine_only["irrelevant_rejected"] - 0.03
    # An answer stating the question's own record agrees; one about sleep does not.
    hits = retrieval.retrieve(PROTEIN, PERSON, k=reply_judge.QUESTION_RECORDS)
    assert reply_judge.agreement(hits[0].record.text, hits)
    assert not reply_judge.agreement(SLEEP_REPLY, hits)


def _best(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best record score, and whether that record is on a labelled topic."""
    scores, right = [], []
    for q in load_questions(split):
        hit = retrieval.retrieve(q["question"], None, k=1)[0]
        scores.append(hit.score)
        right.append(hit.record.topic in q["topics"])
    return np.array(scores), np.array(right)


def test_retrieval_floor_is_calibrated_and_finds_the_questions_topic() -> None:
    scores, right = _best("train")
    assert calibrate_min_score(scores) == pytest.approx(retrieval.MIN_SCORE, abs=0.011)
    assert right.mean() >= 0.95
    # Held out: the test split never shaped the records, the weights or the floor.
    scores, right = _best("test")
    answered = scores >= retrieval.MIN_SCORE
    print("test split: answered", answered.mean(), "top record on a labelled topic", right.mean())
    assert answered.mean() >= 0.95
    assert right.mean() >= 0.7
    # Questions about something else find no record.
    for question in ("write me a poem about cats", "is my code correct", "recommend a movie"):
        assert retrieval.retrieve(question, None, k=1)[0].score < retrieval.MIN_SCORE


def _judge(question: str, reply: str) -> reply_judge.Verdict:
    grounded = answer_question(question, PERSON, triage(question, PERSON, model=None))
    return reply_judge.judge(
        question, reply, profile=PERSON, grounded_answer=grounded.answer, topic="nutrition"
    )


PROTEIN = "How much protein should I eat to build muscle?"


def test_a_grounded_on_topic_reply_passes() -> None:
    record = grounding(PROTEIN, PERSON)[0].record
    verdict = _judge(PROTEIN, record.text)
    assert verdict.passed, verdict


SLEEP_REPLY = (
    "Keep a regular bedtime, dim the lights in the evening and keep your bedroom cool "
    "and dark so you fall asleep faster and wake up rested."
)


def test_an_off_topic_reply_is_rejected() -> None:
    codes = {code for code, _ in _judge(PROTEIN, SLEEP_REPLY).problems}
    assert codes == {IRRELEVANT, OFF_TOPIC}


def test_a_number_nothing_supports_is_rejected() -> None:
    reply = "Eat about 5.5 g of protein per kg of body weight a day, split over your meals."
    codes = {code for code, _ in _judge(PROTEIN, reply).problems}
    assert UNGROUNDED_NUMBER in codes
    # The person's own figures are grounded: 64 kg is theirs.
    ok = "At your 64 kg, spread your protein over the day across several meals with protein."
    assert UNGROUNDED_NUMBER not in {code for code, _ in _judge(PROTEIN, ok).problems}


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            "Please stop exercising now. You have a medical emergency or you feel unwell, "
            "protein will not help.",
            serve.ALARMING_REPLY,
        ),
        (
            "Get clearance from your doctor before you change how much protein you eat "
            "every day with your meals.",
            serve.ALARMING_REPLY,
        ),
        (
            "Keep a regular bedtime, dim the lights in the evening and keep your bedroom "
            "cool and dark so you fall asleep faster.",
            serve.OFF_TOPIC,
        ),
        (
            "Eat about 5.5 g of protein per kg of body weight a day, over your meals.",
            serve.UNGROUNDED_REPLY,
        ),
    ],
)
def test_the_one_inference_path_replaces_each_planted_bad_reply(reply: str, reason: str) -> None:
    task = live_task("judge", "coaching", PROTEIN, PERSON)
    verdict = triage(PROTEIN, PERSON, model=None)
    served = serve.serve_reply(task, verdict, reply)
    assert served.source == "rules" and served.fallback_reason.startswith(reason), served
    assert served.citations and "protein" in served.text.lower()


def test_a_good_model_reply_is_served_with_its_citations() -> None:
    record = grounding(PROTEIN, PERSON)[0].record
    task = live_task("judge", "coaching", PROTEIN, PERSON)
    served = serve.serve_reply(task, triage(PROTEIN, PERSON, model=None), record.text)
    assert served.source == "model" and served.outcome == "ok", served
    assert record.id in served.citations

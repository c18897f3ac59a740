"""Everyday questions through the real API: every answer is on topic, cites knowledge
records, and carries no emergency or clearance language the question did not call for.

The labelled set (``fitsense_core/data/coach_questions.jsonl``, 699 questions in 175
paraphrase groups, with typos, slang and five other languages) is asked by five different
people through ``POST /coach`` on the real app and PostgreSQL. The app has no promoted
model version, as under ``make run`` when the student has not passed the coach_reply
capability: the grounded knowledge-based coach answers, as it does whenever a model's
reply is rejected. (tests/test_reply_judge.py covers the model's side.)
"""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from fitsense_core.coach.answers import MOVEMENT_TOPICS
from fitsense_core.coach.knowledge_base import knowledge_base
from fitsense_core.coach.questions import load_questions
from fitsense_core.reply_checks import _ALARM, _CLEARANCE
from fitsense_core.safety import CLEARANCE_NOTE, EMERGENCY_MESSAGE
from tests.ai_fixtures import ai_client, ai_environ
from tests.api_helpers import ONBOARDING

pytestmark = pytest.mark.anyio


def _person(**changes) -> dict:
    person = copy.deepcopy(ONBOARDING)
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            person[section][field] = value
        else:
            person[section] = value
    return person


# Five people whose profiles call for no clearance: the 34-year-old with a
# recovering knee tendinopathy, the fixtures' person (shoulder impingement, knee strain,
# peanut allergy), a healthy beginner, an older adult with controlled hypertension, and a
# young endurance runner.
PEOPLE = (
    _person(
        profile__date_of_birth="1992-03-02",
        goals=["muscle_gain"],
        conditions=[],
        medical_history=[
            {
                "kind": "injury",
                "body_region": "knee",
                "status": "recovering",
                "description": "patellar tendinopathy",
                "occurred_on": "2026-08-01",
            }
        ],
        allergies=[],
    ),
    _person(),
    _person(
        goals=["fat_loss"],
        conditions=[],
        medical_history=[],
        medications=[],
        allergies=[],
        preferences__experience="beginner",
    ),
    _person(
        profile__date_of_birth="1958-01-20",
        profile__sex="M",
        goals=["general_fitness"],
        conditions=[{"code": "hypertension", "severity": "mild"}],
        medical_history=[],
        allergies=[],
    ),
    _person(
        profile__date_of_birth="2006-07-11",
        profile__sex="M",
        goals=["endurance"],
        conditions=[],
        medical_history=[],
        medications=[],
        allergies=[],
        preferences__experience="advanced",
        preferences__days_per_week=5,
    ),
)


async def _onboard(client, person: dict) -> dict:
    import uuid

    r = await client.post(
        "/auth/signup",
        json={
            "name": "Everyday",
            "email": f"everyday-{uuid.uuid4().hex[:12]}@example.com",
            "password": "a-long-password",
        },
    )
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = await client.put("/onboarding", json=person, headers=headers)
    assert r.status_code == 200, r.text
    return headers


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def test_every_everyday_answer_is_on_topic_cited_and_calm(fresh_migrated_db) -> None:
    questions = load_questions()
    assert len(questions) >= 150
    topics_of = {r.id: r.topic for r in knowledge_base().records}
    # No model server: answers come from the grounded coach, as under make run while the
    # coach_reply capability has not passed.
    environ = ai_environ("http://127.0.0.1:9", "unused")
    alarmed, uncited, misplaced_notes = [], [], []
    on_topic: dict[str, list[bool]] = {"train": [], "validation": [], "test": []}
    sources = Counter()
    async for client in ai_client(fresh_migrated_db, environ):
        people = [await _onboard(client, p) for p in PEOPLE]
        for i, q in enumerate(questions):
            r = await client.post("/coach", json={"question": q["question"]}, headers=people[i % 5])
            assert r.status_code == 200, (q, r.text)
            body = r.json()
            sources[body["source"]] += 1
            answer = body["answer"]
            where = (q["id"], q["question"], answer[:160])
            if body["safety_level"] not in ("ok", "injury_aware") or (
                EMERGENCY_MESSAGE in answer
                or CLEARANCE_NOTE in answer
                or _ALARM.search(answer.lower())
                or _CLEARANCE.search(answer.lower())
                or body["needs_medical_clearance"]
                or body["refer_to_emergency"]
            ):
                alarmed.append((body["safety_level"], *where))
            # Nobody here has logged a session: none is told they average 0 a week.
            assert "averaged 0 sessions" not in answer, where
            if not body["citations"]:
                uncited.append(where)
                continue
            topic = topics_of[body["citations"][0]]
            on_topic[q["split"]].append(topic in q["topics"])
            if re.match(r"Working around", answer) and topic not in MOVEMENT_TOPICS:
                misplaced_notes.append((topic, *where))
    rates = {split: sum(v) / len(v) for split, v in on_topic.items()}
    print(f"on topic by split: {rates}; uncited: {len(uncited)} of {len(questions)}")
    assert sources == {"rules": len(questions)}
    # Never: alarm or clearance wording, or an injury note in front of advice that does
    # not move the body.
    assert not alarmed, alarmed[:10]
    assert not misplaced_notes, misplaced_notes[:10]
    # Cited and on topic: the records and weights were shaped on train and validation;
    # the test split is held out (see docs/coach-knowledge.md for the figures).
    assert len(uncited) <= 0.03 * len(questions), uncited[:10]
    assert rates["train"] >= 0.95 and rates["validation"] >= 0.9, rates
    assert rates["test"] >= 0.85, rates

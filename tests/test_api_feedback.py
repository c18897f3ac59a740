"""Training consent and feedback through the API: opting in and out, rating one's own
plan versions and AI answers (ids the AI endpoints return), and nothing stored for
another person's target or for bad input."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.api_helpers import ONBOARDING, assert_problem, fields

pytestmark = pytest.mark.anyio


async def onboarded(client, new_account) -> tuple[dict, uuid.UUID]:
    headers, body = await new_account()
    r = await client.put("/onboarding", json=ONBOARDING, headers=headers)
    assert r.status_code == 200, r.text
    return headers, uuid.UUID(body["user"]["id"])


async def coach_interaction(client, headers) -> str:
    """Asks the coach (no model server here: the knowledge-based coach answers)."""
    r = await client.post(
        "/coach", json={"question": "How should I progress my rows?"}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()["interaction_id"]


async def generated_plan(client, headers) -> dict:
    r = await client.post("/plans/generate?wait=60", json={}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def feedback_count(db, user_id: uuid.UUID) -> int:
    return await db.fetchval("SELECT count(*) FROM feedback WHERE user_id = $1", user_id)


async def test_consent_is_off_until_opted_in_and_remembers_when_it_changed(client, new_account, db):
    headers, body = await new_account()
    user_id = uuid.UUID(body["user"]["id"])
    r = await client.get("/me/training-consent", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"opted_in": False, "changed_at": None}

    r = await client.put("/me/training-consent", json={"opted_in": True}, headers=headers)
    assert r.status_code == 200, r.text
    opted = r.json()
    assert opted["opted_in"] is True and opted["changed_at"]
    # Saying it again is no change: the time stays.
    r = await client.put("/me/training-consent", json={"opted_in": True}, headers=headers)
    assert r.json() == opted
    assert (await client.get("/me/training-consent", headers=headers)).json() == opted

    r = await client.put("/me/training-consent", json={"opted_in": False}, headers=headers)
    withdrawn = r.json()
    assert withdrawn["opted_in"] is False and withdrawn["changed_at"] > opted["changed_at"]
    row = await db.fetchrow(
        "SELECT training_consent, training_consent_changed_at FROM users WHERE id = $1", user_id
    )
    assert row["training_consent"] is False and row["training_consent_changed_at"] is not None


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 422),
        ({"opted_in": "yes"}, 422),
        ({"opted_in": None}, 422),
        ({"opted_in": True, "everything": True}, 422),
    ],
)
async def test_bad_consent_input_changes_nothing(client, new_account, db, body, status):
    headers, signup = await new_account()
    r = await client.put("/me/training-consent", json=body, headers=headers)
    assert fields(assert_problem(r, status))
    consent = await db.fetchval(
        "SELECT training_consent FROM users WHERE id = $1", uuid.UUID(signup["user"]["id"])
    )
    assert consent is False


async def test_consent_and_feedback_need_a_token(client):
    assert_problem(await client.get("/me/training-consent"), 401)
    assert_problem(await client.put("/me/training-consent", json={"opted_in": True}), 401)
    assert_problem(await client.get("/feedback"), 401)
    body = {"target_type": "plan", "target_id": str(uuid.uuid4()), "rating": "up"}
    assert_problem(await client.post("/feedback", json=body), 401)


async def test_rate_a_coach_answer_and_a_generated_plan(client, new_account, db):
    headers, user_id = await onboarded(client, new_account)
    interaction_id = await coach_interaction(client, headers)
    audited = await db.fetchrow(
        "SELECT user_id, context_type FROM ai_interactions WHERE id = $1",
        uuid.UUID(interaction_id),
    )
    assert audited["user_id"] == user_id and audited["context_type"] == "coach"

    r = await client.post(
        "/feedback",
        json={
            "target_type": "interaction",
            "target_id": interaction_id,
            "rating": "down",
            "comment": "  Too generic for my knee.  ",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["target_type"] == "interaction" and answer["target_id"] == interaction_id
    assert answer["rating"] == "down" and answer["comment"] == "Too generic for my knee."
    stored = await db.fetchrow("SELECT * FROM feedback WHERE id = $1", uuid.UUID(answer["id"]))
    assert stored["user_id"] == user_id and stored["plan_id"] is None
    assert str(stored["interaction_id"]) == interaction_id and stored["rating"] == "down"

    job = await generated_plan(client, headers)
    assert job["result"]["interaction_id"]  # the plan job's audit row can be rated too
    r = await client.post(
        "/feedback",
        json={"target_type": "plan", "target_id": job["plan"]["id"], "rating": "up"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["comment"] is None and r.json()["target_id"] == job["plan"]["id"]

    listed = (await client.get("/feedback", headers=headers)).json()
    assert listed["total"] == 2 and [i["target_type"] for i in listed["items"]] == [
        "plan",
        "interaction",
    ]
    assert listed["items"][1] == answer
    page = (await client.get("/feedback?limit=1&offset=1", headers=headers)).json()
    assert page["total"] == 2 and page["items"] == [answer]
    past = (await client.get("/feedback?offset=5", headers=headers)).json()
    assert past == {"items": [], "total": 2, "limit": 20, "offset": 5}


async def test_another_persons_target_is_not_found_and_nothing_is_stored(client, new_account, db):
    owner, _ = await onboarded(client, new_account)
    interaction_id = await coach_interaction(client, owner)
    plan_id = (await generated_plan(client, owner))["plan"]["id"]
    other, other_id = await onboarded(client, new_account)
    for target_type, target_id in (
        ("interaction", interaction_id),
        ("plan", plan_id),
        ("interaction", plan_id),  # the right id under the wrong kind
        ("plan", str(uuid.uuid4())),
    ):
        r = await client.post(
            "/feedback",
            json={"target_type": target_type, "target_id": target_id, "rating": "up"},
            headers=other,
        )
        assert fields(assert_problem(r, 404)) == ["target_id"]
    assert await feedback_count(db, other_id) == 0
    assert (await client.get("/feedback", headers=other)).json()["total"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"rating": "meh"},
        {"rating": None},
        {"target_type": "workout"},
        {"target_id": "not-a-uuid"},
        {"comment": "x" * 1001},
        {"comment": ""},
        {"comment": "   "},
        {"comment": 5},
        {"extra": True},
    ],
)
async def test_bad_feedback_input_gets_422_and_stores_nothing(client, new_account, db, change):
    headers, user_id = await onboarded(client, new_account)
    interaction_id = await coach_interaction(client, headers)
    body = {"target_type": "interaction", "target_id": interaction_id, "rating": "up"}
    r = await client.post("/feedback", json=body | change, headers=headers)
    assert fields(assert_problem(r, 422))
    assert await feedback_count(db, user_id) == 0


async def test_the_longest_comment_is_kept_whole(client, new_account):
    headers, _ = await onboarded(client, new_account)
    interaction_id = await coach_interaction(client, headers)
    comment = "é" * 1000
    r = await client.post(
        "/feedback",
        json={
            "target_type": "interaction",
            "target_id": interaction_id,
            "rating": "up",
            "comment": comment,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["comment"] == comment


async def test_the_database_refuses_feedback_on_someone_elses_target(client, new_account, db):
    """The last line of defence: composite foreign keys tie the target to its owner."""
    owner, _ = await onboarded(client, new_account)
    interaction_id = uuid.UUID(await coach_interaction(client, owner))
    _, other_id = await onboarded(client, new_account)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(
            "INSERT INTO feedback (user_id, interaction_id, rating) VALUES ($1, $2, 'up')",
            other_id,
            interaction_id,
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO feedback (user_id, rating) VALUES ($1, 'up')",
            other_id,
        )

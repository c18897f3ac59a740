"""Workouts through the real app (AsyncTestClient, the real PostgreSQL): logging a session
atomically, idempotent retries, keyset pagination, replace/delete, and isolation."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api_helpers import assert_problem, fields

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def exercise_ids(db) -> list[str]:
    rows = await db.fetch("SELECT id FROM exercises ORDER BY slug LIMIT 3")
    assert len(rows) == 3
    return [str(r["id"]) for r in rows]


def session(exercise_ids: list[str], started_at: datetime | None = None, **extra) -> dict:
    started = started_at or NOW - timedelta(hours=2)
    body = {
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=70)).isoformat(),
        "notes": "Leg day",
        "exercises": [
            {
                "exercise_id": exercise_ids[0],
                "notes": "paused",
                "sets": [
                    {"reps": 10, "weight_kg": 40, "is_warmup": True},
                    {"reps": 5, "weight_kg": 100.125, "rir": 2},
                    {"reps": 5, "weight_kg": 100, "rir": 1},
                ],
            },
            {"exercise_id": exercise_ids[1], "sets": [{"reps": 0, "duration_seconds": 60}]},
        ],
    }
    body.update(extra)
    return body


async def _count(db, user_id: uuid.UUID) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT count(DISTINCT w.id) AS w, count(DISTINCT we.id) AS e, count(s.id) AS s "
        "FROM workouts w LEFT JOIN workout_exercises we ON we.workout_id = w.id "
        "LEFT JOIN workout_sets s ON s.workout_exercise_id = we.id WHERE w.user_id = $1",
        user_id,
    )
    return row["w"], row["e"], row["s"]


async def _plan(db, user_id: uuid.UUID, version: int = 1) -> tuple[str, str]:
    plan_id = await db.fetchval(
        "INSERT INTO workout_plans (user_id, name, version, source) "
        "VALUES ($1, 'Plan', $2, 'manual') RETURNING id",
        user_id,
        version,
    )
    day_id = await db.fetchval(
        "INSERT INTO plan_days (plan_id, name, day_order) VALUES ($1, 'PUSH_1', 1) RETURNING id",
        plan_id,
    )
    return str(plan_id), str(day_id)


# --- logging a session --------------------------------------------------------------


async def test_log_session_round_trips(client, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    started = datetime.fromisoformat("2026-11-01T19:30:15.123456+01:00")
    body = session(exercise_ids, started, notes="  '); DROP TABLE workouts; -- ")
    created = await client.post("/workouts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    out = created.json()
    assert "idempotent-replayed" not in created.headers
    assert datetime.fromisoformat(out["started_at"]) == started  # same instant, in UTC
    assert out["started_at"].endswith("Z") or out["started_at"].endswith("+00:00")
    assert out["notes"] == "'); DROP TABLE workouts; --"  # stored as text, trimmed
    assert out["plan_id"] is None and out["plan_day_id"] is None and out["created_at"]
    first, second = out["exercises"]
    assert [first["position"], second["position"]] == [1, 2]
    assert first["exercise_id"] == exercise_ids[0] and first["slug"] and first["name"]
    assert first["notes"] == "paused" and second["notes"] is None
    assert [s["set_number"] for s in first["sets"]] == [1, 2, 3]
    assert [s["weight_kg"] for s in first["sets"]] == [40, 100.13, 100]  # 2 decimals
    assert first["sets"][0]["is_warmup"] is True and first["sets"][1]["rir"] == 2
    assert second["sets"] == [
        {
            "id": second["sets"][0]["id"],
            "set_number": 1,
            "reps": 0,
            "weight_kg": None,
            "rir": None,
            "duration_seconds": 60,
            "is_warmup": False,
        }
    ]
    fetched = await client.get(f"/workouts/{out['id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json() == out
    assert await _count(db, user_id) == (1, 2, 4)


async def test_largest_session_is_accepted(client, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    body = session(exercise_ids)
    body["exercises"] = [
        {"exercise_id": exercise_ids[i % 3], "sets": [{"reps": 5, "weight_kg": 20}] * 30}
        for i in range(30)
    ]
    created = await client.post("/workouts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert [e["position"] for e in created.json()["exercises"]] == list(range(1, 31))
    assert await _count(db, user_id) == (1, 30, 900)


def _bad_cases(ids: list[str]) -> list[tuple[str, dict | list, str]]:
    """(what, body, the field the 422 names) — each must change nothing."""
    good = session(ids)
    sets = good["exercises"][0]["sets"]

    def with_set(**changes) -> dict:
        body = copy.deepcopy(good)
        body["exercises"][0]["sets"][1] = {**sets[1], **changes}
        return body

    def without(key: str) -> dict:
        return {k: v for k, v in good.items() if k != key}

    naive = (NOW - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    return [
        ("started_at missing", without("started_at"), "started_at"),
        ("naive started_at", dict(good, started_at=naive, ended_at=None), "started_at"),
        ("started_at not a date", dict(good, started_at="yesterday"), "started_at"),
        (
            "far future",
            dict(good, started_at=(NOW + timedelta(days=3)).isoformat(), ended_at=None),
            "started_at",
        ),
        ("before 1900", dict(good, started_at="1850-01-01T00:00:00Z", ended_at=None), "started_at"),
        (
            "ends before start",
            dict(good, ended_at=(NOW - timedelta(hours=3)).isoformat()),
            "ended_at",
        ),
        (
            "over 24 h",
            dict(good, ended_at=(NOW - timedelta(hours=2) + timedelta(hours=25)).isoformat()),
            "ended_at",
        ),
        ("notes too long", dict(good, notes="x" * 2001), "notes"),
        ("NUL in notes", dict(good, notes="a\x00b"), "notes"),
        ("no exercises", dict(good, exercises=[]), "exercises"),
        ("31 exercises", dict(good, exercises=good["exercises"][:1] * 31), "exercises"),
        (
            "no sets",
            dict(good, exercises=[{"exercise_id": ids[0], "sets": []}]),
            "exercises[0].sets",
        ),
        (
            "31 sets",
            dict(good, exercises=[{"exercise_id": ids[0], "sets": [{"reps": 1}] * 31}]),
            "exercises[0].sets",
        ),
        ("reps 101", with_set(reps=101), "exercises[0].sets[1].reps"),
        ("reps -1", with_set(reps=-1), "exercises[0].sets[1].reps"),
        ("reps a string", with_set(reps="ten"), "exercises[0].sets[1].reps"),
        ("reps a float", with_set(reps=5.5), "exercises[0].sets[1].reps"),
        ("weight 1000.01", with_set(weight_kg=1000.01), "exercises[0].sets[1].weight_kg"),
        ("weight -1", with_set(weight_kg=-1), "exercises[0].sets[1].weight_kg"),
        ("huge weight", with_set(weight_kg=1e308), "exercises[0].sets[1].weight_kg"),
        ("rir 11", with_set(rir=11), "exercises[0].sets[1].rir"),
        ("duration 0", with_set(duration_seconds=0), "exercises[0].sets[1].duration_seconds"),
        (
            "duration over a day",
            with_set(duration_seconds=86401),
            "exercises[0].sets[1].duration_seconds",
        ),
        ("warm-up not a bool", with_set(is_warmup="yes"), "exercises[0].sets[1].is_warmup"),
        ("set_number is assigned", with_set(set_number=7), "exercises[0].sets[1].set_number"),
        (
            "exercise id not a uuid",
            dict(good, exercises=[{"exercise_id": "1 OR 1=1", "sets": [{"reps": 1}]}]),
            "exercises[0].exercise_id",
        ),
        (
            "exercise notes NUL",
            dict(good, exercises=[{"exercise_id": ids[0], "notes": "\x00", "sets": [{"reps": 1}]}]),
            "exercises[0].notes",
        ),
        ("unknown field", dict(good, user_id=str(uuid.uuid4())), "user_id"),
        ("plan_id not a uuid", dict(good, plan_id="plan-1"), "plan_id"),
        ("a bare array", [good], "body"),
    ]


async def test_bad_sessions_are_422_naming_the_field_and_store_nothing(
    client, account, exercise_ids, db
) -> None:
    headers, user_id = await account()
    stored = await client.post("/workouts", json=session(exercise_ids), headers=headers)
    assert stored.status_code == 201
    for what, body, field in _bad_cases(exercise_ids):
        response = await client.post("/workouts", json=body, headers=headers)
        problem = assert_problem(response, 422)
        assert field in fields(problem), (what, problem)
        # PUT validates exactly like POST and leaves the stored session as it was.
        replaced = await client.put(f"/workouts/{stored.json()['id']}", json=body, headers=headers)
        assert field in fields(assert_problem(replaced, 422)), what
    assert await _count(db, user_id) == (1, 2, 4)
    assert (await client.get(f"/workouts/{stored.json()['id']}", headers=headers)).json() == (
        stored.json()
    )


async def test_unknown_exercise_is_422_and_rolls_back(client, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    body = session(exercise_ids)
    body["exercises"].append({"exercise_id": str(uuid.uuid4()), "sets": [{"reps": 3}]})
    problem = assert_problem(await client.post("/workouts", json=body, headers=headers), 422)
    assert fields(problem) == ["exercises[2].exercise_id"]
    assert await _count(db, user_id) == (0, 0, 0)


async def test_malformed_json_and_missing_token(client, account) -> None:
    headers, _ = await account()
    broken = await client.post(
        "/workouts",
        content=b'{"started_at": "2026-11-01T10:00:00Z", "exercises": [',
        headers={**headers, "content-type": "application/json"},
    )
    assert_problem(broken, 400)
    some_id = uuid.uuid4()
    for method, path in [
        ("POST", "/workouts"),
        ("GET", "/workouts"),
        ("GET", f"/workouts/{some_id}"),
        ("PUT", f"/workouts/{some_id}"),
        ("DELETE", f"/workouts/{some_id}"),
    ]:
        assert_problem(await client.request(method, path, json={}), 401)


# --- plan references ----------------------------------------------------------------


async def test_plan_and_day_must_be_the_callers(client, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    _, other_id = await account()
    plan_id, day_id = await _plan(db, user_id)
    second_plan, second_day = await _plan(db, user_id, version=2)
    foreign_plan, foreign_day = await _plan(db, other_id)

    linked = await client.post(
        "/workouts",
        json=session(exercise_ids, plan_id=plan_id, plan_day_id=day_id),
        headers=headers,
    )
    assert linked.status_code == 201, linked.text
    assert (linked.json()["plan_id"], linked.json()["plan_day_id"]) == (plan_id, day_id)
    only_plan = await client.post(
        "/workouts", json=session(exercise_ids, plan_id=plan_id), headers=headers
    )
    assert only_plan.status_code == 201 and only_plan.json()["plan_day_id"] is None

    for plan, day, field in [
        (None, day_id, "plan_day_id"),  # a day needs its plan
        (None, foreign_day, "plan_day_id"),
        (foreign_plan, None, "plan_id"),
        (foreign_plan, foreign_day, "plan_id"),
        (str(uuid.uuid4()), None, "plan_id"),
        (plan_id, foreign_day, "plan_day_id"),
        (plan_id, second_day, "plan_day_id"),  # the caller's day, but of another plan
        (second_plan, str(uuid.uuid4()), "plan_day_id"),
    ]:
        body = session(exercise_ids, plan_id=plan, plan_day_id=day)
        problem = assert_problem(await client.post("/workouts", json=body, headers=headers), 422)
        assert fields(problem) == [field], (plan, day, problem)
        replaced = await client.put(f"/workouts/{linked.json()['id']}", json=body, headers=headers)
        assert fields(assert_problem(replaced, 422)) == [field]
    assert await _count(db, user_id) == (2, 4, 8)
    assert (await client.get(f"/workouts/{linked.json()['id']}", headers=headers)).json() == (
        linked.json()
    )


# --- idempotency --------------------------------------------------------------------


async def test_idempotent_replay_mismatch_and_per_user_keys(
    client, account, exercise_ids, db
) -> None:
    headers, user_id = await account()
    other_headers, other_id = await account()
    key = {"Idempotency-Key": "session-2026-11-01:abc_1.x"}
    body = session(exercise_ids)
    first = await client.post("/workouts", json=body, headers={**headers, **key})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers

    # The same request again, even with keys in another order: the first answer.
    reordered = dict(reversed(list(body.items())))
    again = await client.post("/workouts", json=reordered, headers={**headers, **key})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()

    changed = dict(body, notes="another session")
    mismatch = await client.post("/workouts", json=changed, headers={**headers, **key})
    problem = assert_problem(mismatch, 422)
    assert fields(problem) == ["header.idempotency-key"]
    assert "another request" in problem["errors"][0]["message"]
    assert await _count(db, user_id) == (1, 2, 4)

    # Keys are per user: the same key is a new session for someone else.
    theirs = await client.post("/workouts", json=body, headers={**other_headers, **key})
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != first.json()["id"]
    assert await _count(db, other_id) == (1, 2, 4)
    # Without a key nothing is deduplicated.
    assert (await client.post("/workouts", json=body, headers=headers)).status_code == 201
    assert (await _count(db, user_id))[0] == 2


async def test_failed_request_does_not_use_up_its_key(client, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    key = {"Idempotency-Key": "retry-after-fix"}
    bad = session(exercise_ids)
    bad["exercises"][0]["exercise_id"] = str(uuid.uuid4())
    assert_problem(await client.post("/workouts", json=bad, headers={**headers, **key}), 422)
    fixed = await client.post("/workouts", json=session(exercise_ids), headers={**headers, **key})
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers
    assert await _count(db, user_id) == (1, 2, 4)


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "semi;colon", "slash/es", "é"])
async def test_bad_idempotency_key_is_422(client, account, exercise_ids, db, key: str) -> None:
    headers, user_id = await account()
    response = await client.post(
        "/workouts",
        json=session(exercise_ids),
        headers={**headers, "Idempotency-Key": key.encode("utf-8")},
    )
    assert fields(assert_problem(response, 422)) == ["header.idempotency-key"]
    assert await _count(db, user_id) == (0, 0, 0)


async def test_concurrent_duplicates_create_one_workout(live, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    key = {"Idempotency-Key": f"burst-{uuid.uuid4().hex}"}
    body = session(exercise_ids)
    answers = await asyncio.gather(
        *(live.post("/workouts", json=body, headers={**headers, **key}) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 5
    assert await _count(db, user_id) == (1, 2, 4)
    stored = await db.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE user_id = $1 AND status_code = 201", user_id
    )
    assert stored == 1


# --- listing ------------------------------------------------------------------------


async def test_list_pages_through_every_workout_once_in_order(
    client, account, exercise_ids
) -> None:
    headers, _ = await account()
    other_headers, _ = await account()
    base = NOW - timedelta(days=10)
    times = [base + timedelta(days=i) for i in range(7)] + [base + timedelta(days=3)] * 3
    created = []
    for t in times:
        response = await client.post("/workouts", json=session(exercise_ids, t), headers=headers)
        assert response.status_code == 201
        created.append(response.json())
    await client.post("/workouts", json=session(exercise_ids), headers=other_headers)

    expected = sorted(created, key=lambda w: (w["started_at"], w["id"]), reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/workouts", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["items"]) == 3
    assert [w["id"] for w in seen] == [w["id"] for w in expected]
    assert pages == 4

    one = seen[0]
    # 3 + 1 sets; warm-up excluded from volume: 5 * 100.13 + 5 * 100.
    assert (one["exercise_count"], one["set_count"], one["total_reps"]) == (2, 4, 20)
    assert one["volume_kg"] == pytest.approx(1000.65)
    assert set(one) == {
        "id",
        "started_at",
        "ended_at",
        "plan_id",
        "plan_day_id",
        "notes",
        "exercise_count",
        "set_count",
        "total_reps",
        "volume_kg",
    }
    default = (await client.get("/workouts", headers=headers)).json()
    assert len(default["items"]) == 10 and default["next_cursor"] is None


async def test_list_filters_from_inclusive_to_exclusive(client, account, exercise_ids) -> None:
    headers, _ = await account()
    day = (NOW - timedelta(days=5)).replace(hour=0, minute=0, second=0)
    ids = {}
    for label, t in {
        "before": day - timedelta(seconds=1),
        "at_start": day,
        "inside": day + timedelta(hours=30),
        "at_end": day + timedelta(days=2),
    }.items():
        response = await client.post("/workouts", json=session(exercise_ids, t), headers=headers)
        ids[response.json()["id"]] = label

    async def labels(params: dict) -> list[str]:
        response = await client.get("/workouts", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [ids[w["id"]] for w in response.json()["items"]]

    end = day + timedelta(days=2)
    assert await labels({"from": day.date().isoformat(), "to": end.date().isoformat()}) == [
        "inside",
        "at_start",
    ]
    assert await labels(
        {"from": day.isoformat().replace("+00:00", "Z"), "to": end.isoformat()}
    ) == ["inside", "at_start"]
    assert await labels({"from": end.date().isoformat()}) == ["at_end"]
    assert await labels({"to": day.date().isoformat()}) == ["before"]
    assert await labels({"from": day.date().isoformat(), "to": day.date().isoformat()}) == []


async def test_bad_list_parameters_are_422_naming_the_parameter(
    client, account, exercise_ids
) -> None:
    headers, _ = await account()
    other_headers, _ = await account()
    for t in (NOW - timedelta(days=2), NOW - timedelta(days=1)):
        await client.post("/workouts", json=session(exercise_ids, t), headers=headers)
        await client.post("/workouts", json=session(exercise_ids, t), headers=other_headers)
    cursor = (await client.get("/workouts", params={"limit": 1}, headers=headers)).json()[
        "next_cursor"
    ]
    theirs = (await client.get("/workouts", params={"limit": 1}, headers=other_headers)).json()[
        "next_cursor"
    ]
    tampered = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    for params, field in [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"from": "2026-11-05", "to": "2026-11-01"}, "query.from"),
        ({"from": "last week"}, "query.from"),
        ({"to": "2026-11-01T10:00:00"}, "query.to"),  # no offset
        ({"from": "2026-02-30"}, "query.from"),
        ({"cursor": "not a cursor"}, "query.cursor"),
        ({"cursor": "' OR 1=1 --"}, "query.cursor"),
        ({"cursor": tampered}, "query.cursor"),
        ({"cursor": cursor + "!!"}, "query.cursor"),
        ({"cursor": theirs}, "query.cursor"),  # cursors are bound to their user
        ({"cursor": "A" * 101}, "query.cursor"),
    ]:
        response = await client.get("/workouts", params=params, headers=headers)
        assert field in fields(assert_problem(response, 422)), params
    assert (
        await client.get("/workouts", params={"cursor": cursor}, headers=headers)
    ).status_code == 200


# --- replace and delete --------------------------------------------------------------


async def test_replace_keeps_identity_and_replaces_everything_else(
    client, account, exercise_ids, db
) -> None:
    headers, user_id = await account()
    plan_id, day_id = await _plan(db, user_id)
    original = (await client.post("/workouts", json=session(exercise_ids), headers=headers)).json()
    new_start = NOW - timedelta(days=1)
    replacement = {
        "started_at": new_start.isoformat(),
        "plan_id": plan_id,
        "plan_day_id": day_id,
        "exercises": [{"exercise_id": exercise_ids[2], "sets": [{"reps": 12, "rir": 3}]}],
    }
    response = await client.put(f"/workouts/{original['id']}", json=replacement, headers=headers)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["id"] == original["id"] and out["created_at"] == original["created_at"]
    assert datetime.fromisoformat(out["started_at"]) == new_start
    assert out["ended_at"] is None and out["notes"] is None
    assert (out["plan_id"], out["plan_day_id"]) == (plan_id, day_id)
    assert [e["exercise_id"] for e in out["exercises"]] == [exercise_ids[2]]
    assert out["exercises"][0]["sets"][0]["set_number"] == 1
    assert (await client.get(f"/workouts/{original['id']}", headers=headers)).json() == out
    assert await _count(db, user_id) == (1, 1, 1)

    # A replacement that fails half-way (unknown exercise) leaves the session as it was.
    broken = dict(
        replacement, exercises=[{"exercise_id": str(uuid.uuid4()), "sets": [{"reps": 1}]}]
    )
    assert_problem(
        await client.put(f"/workouts/{original['id']}", json=broken, headers=headers), 422
    )
    assert (await client.get(f"/workouts/{original['id']}", headers=headers)).json() == out


async def test_delete_removes_the_session_with_its_sets(client, account, exercise_ids, db) -> None:
    headers, user_id = await account()
    keep = (await client.post("/workouts", json=session(exercise_ids), headers=headers)).json()
    gone = (await client.post("/workouts", json=session(exercise_ids), headers=headers)).json()
    response = await client.delete(f"/workouts/{gone['id']}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert_problem(await client.get(f"/workouts/{gone['id']}", headers=headers), 404)
    assert_problem(await client.delete(f"/workouts/{gone['id']}", headers=headers), 404)
    assert await _count(db, user_id) == (1, 2, 4)
    orphans = await db.fetchval(
        "SELECT count(*) FROM workout_exercises WHERE workout_id = $1", uuid.UUID(gone["id"])
    )
    assert orphans == 0
    assert (await client.get(f"/workouts/{keep['id']}", headers=headers)).status_code == 200


async def test_another_users_workout_is_404_and_untouched(
    client, account, exercise_ids, db
) -> None:
    headers, user_id = await account()
    intruder, intruder_id = await account()
    mine = (await client.post("/workouts", json=session(exercise_ids), headers=headers)).json()
    path = f"/workouts/{mine['id']}"
    for response in [
        await client.get(path, headers=intruder),
        await client.put(path, json=session(exercise_ids, notes="mine now"), headers=intruder),
        await client.delete(path, headers=intruder),
    ]:
        # Exactly what a missing id answers: existence is not revealed.
        assert assert_problem(response, 404)["detail"] == f"no workout {mine['id']}"
    missing = uuid.uuid4()
    for response in [
        await client.get(f"/workouts/{missing}", headers=headers),
        await client.put(f"/workouts/{missing}", json=session(exercise_ids), headers=headers),
        await client.delete(f"/workouts/{missing}", headers=headers),
    ]:
        assert assert_problem(response, 404)["detail"] == f"no workout {missing}"
    assert (await client.get(path, headers=headers)).json() == mine
    assert await _count(db, user_id) == (1, 2, 4)
    assert await _count(db, intruder_id) == (0, 0, 0)
    assert (await client.get("/workouts", headers=intruder)).json() == {
        "items": [],
        "next_cursor": None,
    }
    not_uuid = await client.get("/workouts/1%20OR%201=1", headers=headers)
    assert 400 <= not_uuid.status_code < 500


async def test_openapi_documents_the_workout_operations(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {
        (method, path): op
        for path, item in schema["paths"].items()
        if path.startswith("/workouts")
        for method, op in item.items()
    }
    assert {k: op["operationId"] for k, op in operations.items()} == {
        ("post", "/workouts"): "createWorkout",
        ("get", "/workouts"): "listWorkouts",
        ("get", "/workouts/{workout_id}"): "getWorkout",
        ("put", "/workouts/{workout_id}"): "replaceWorkout",
        ("delete", "/workouts/{workout_id}"): "deleteWorkout",
    }
    create = operations[("post", "/workouts")]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert key["in"] == "header" and key["schema"]["maxLength"] == 200
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    assert all(op["security"] == [{"BearerToken": []}] for op in operations.values())

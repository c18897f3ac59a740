"""Daily signals and targets through the real app (AsyncTestClient, the real PostgreSQL):
idempotent day upserts, all-or-nothing bulk imports, ranges, targets that hand over under
a row lock, and isolation between people."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.api_helpers import assert_problem, fields

pytestmark = pytest.mark.anyio

TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=3)

# kind -> (its table, a full value, the entry stored for it)
KINDS = {
    "calories": ("calorie_logs", {"kcal": 2350}, {"kind": "calories", "kcal": 2350}),
    "sleep": ("sleep_logs", {"hours": 7.255}, {"kind": "sleep", "hours": 7.26}),
    "body": (
        "body_metrics",
        {"weight_kg": 78.456, "body_fat_pct": 18.25},
        {"kind": "body", "weight_kg": 78.46, "body_fat_pct": 18.3},
    ),
    "readiness": (
        "readiness_logs",
        {"soreness": 3, "energy": 7, "mood": 8, "resting_hr": 52, "steps": 11000},
        {
            "kind": "readiness",
            "soreness": 3,
            "energy": 7,
            "mood": 8,
            "resting_hr": 52,
            "steps": 11000,
        },
    ),
}


async def _rows(db, table: str, user_id: uuid.UUID) -> int:
    # The table names come from KINDS above, never from input.
    return await db.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", user_id)


async def _range(client, headers, kind: str, start: date, end: date) -> list[dict]:
    response = await client.get(
        f"/signals/{kind}",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- a day's value ------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
async def test_put_is_an_idempotent_upsert(client, account, db, kind: str) -> None:
    headers, user_id = await account()
    table, value, stored = KINDS[kind]
    path = f"/signals/{kind}/{DAY.isoformat()}"
    for _ in range(2):
        response = await client.put(path, json=value, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"date": DAY.isoformat(), **stored}
    assert await _rows(db, table, user_id) == 1
    assert await _range(client, headers, kind, DAY, DAY) == [{"date": DAY.isoformat(), **stored}]


async def test_put_replaces_every_field_and_needs_one(client, account, db) -> None:
    headers, user_id = await account()
    path = f"/signals/body/{DAY.isoformat()}"
    await client.put(path, json={"weight_kg": 80, "body_fat_pct": 20}, headers=headers)
    response = await client.put(path, json={"weight_kg": 79.5}, headers=headers)
    assert response.json() == {
        "kind": "body",
        "date": DAY.isoformat(),
        "weight_kg": 79.5,
        "body_fat_pct": None,
    }
    for kind, empty in [("body", {}), ("body", {"weight_kg": None}), ("readiness", {})]:
        problem = assert_problem(
            await client.put(f"/signals/{kind}/{DAY.isoformat()}", json=empty, headers=headers),
            422,
        )
        assert fields(problem) == ["body"] and "at least one" in problem["detail"]
    assert await _range(client, headers, "body", DAY, DAY) == [response.json()]
    assert await _rows(db, "readiness_logs", user_id) == 0


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("calories", {"kcal": -1}, "kcal"),
        ("calories", {"kcal": 20001}, "kcal"),
        ("calories", {"kcal": "2000"}, "kcal"),
        ("calories", {"kcal": 2000.5}, "kcal"),
        ("calories", {"kcal": 10**30}, "kcal"),
        ("calories", {}, "kcal"),
        ("calories", {"kcal": 2000, "protein_g": 150}, "protein_g"),
        ("calories", {"hours": 8}, "hours"),
        ("sleep", {"hours": 24.01}, "hours"),
        ("sleep", {"hours": -0.5}, "hours"),
        ("sleep", {"hours": None}, "hours"),
        ("body", {"weight_kg": 19.9}, "weight_kg"),
        ("body", {"weight_kg": 401}, "weight_kg"),
        ("body", {"body_fat_pct": 1.9}, "body_fat_pct"),
        ("body", {"body_fat_pct": 76}, "body_fat_pct"),
        ("readiness", {"soreness": 11}, "soreness"),
        ("readiness", {"energy": -1}, "energy"),
        ("readiness", {"mood": True}, "mood"),
        ("readiness", {"resting_hr": 24}, "resting_hr"),
        ("readiness", {"resting_hr": 221}, "resting_hr"),
        ("readiness", {"steps": 150001}, "steps"),
        ("readiness", {"steps": "'; DELETE FROM readiness_logs; --"}, "steps"),
        ("readiness", [{"steps": 10}], "body"),
    ],
)
async def test_bad_values_are_422_naming_the_field_and_keep_the_day(
    client, account, kind: str, value, field: str
) -> None:
    headers, _ = await account()
    path = f"/signals/{kind}/{DAY.isoformat()}"
    before = (await client.put(path, json=KINDS[kind][1], headers=headers)).json()
    problem = assert_problem(await client.put(path, json=value, headers=headers), 422)
    assert field in fields(problem), problem
    assert await _range(client, headers, kind, DAY, DAY) == [before]


async def test_day_bounds_and_unknown_kinds(client, account, db) -> None:
    headers, user_id = await account()
    tomorrow = TODAY + timedelta(days=1)
    ok = await client.put(f"/signals/calories/{tomorrow}", json={"kcal": 1}, headers=headers)
    assert ok.status_code == 200, ok.text
    for day in (TODAY + timedelta(days=2), date(1899, 12, 31)):
        response = await client.put(f"/signals/calories/{day}", json={"kcal": 1}, headers=headers)
        assert fields(assert_problem(response, 422)) == ["path.day"]
    for path in ("/signals/calories/2026-02-30", "/signals/calories/yesterday"):
        # Not a date: no such route.
        assert_problem(await client.put(path, json={"kcal": 1}, headers=headers), 404)
    for method, path in [
        ("PUT", f"/signals/steps/{DAY}"),
        ("GET", "/signals/Calories"),
        ("POST", "/signals/water/bulk"),
        ("DELETE", f"/signals/calorie_logs/{DAY}"),
    ]:
        response = await client.request(method, path, json={"kcal": 1}, headers=headers)
        assert "path.kind" in fields(assert_problem(response, 422)), path
    assert await _rows(db, "calorie_logs", user_id) == 1
    assert_problem(await client.put(f"/signals/calories/{DAY}", json={"kcal": 1}), 401)


# --- bulk import --------------------------------------------------------------------


async def test_bulk_imports_a_year_in_one_go(client, account, db) -> None:
    headers, user_id = await account()
    start = TODAY - timedelta(days=365)
    entries = [
        {"date": (start + timedelta(days=i)).isoformat(), "kcal": 1500 + i} for i in range(366)
    ]
    response = await client.post(
        "/signals/calories/bulk", json={"entries": entries}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"imported": 366}
    stored = await _range(client, headers, "calories", start, TODAY)
    assert stored == [dict(e, kind="calories") for e in entries]

    # Again, with some days changed: they are replaced, the rest stay.
    changed = [dict(e, kcal=3000) for e in entries[:10]]
    again = await client.post("/signals/calories/bulk", json={"entries": changed}, headers=headers)
    assert again.json() == {"imported": 10}
    assert await _rows(db, "calorie_logs", user_id) == 366
    assert (await _range(client, headers, "calories", start, start))[0]["kcal"] == 3000


@pytest.mark.parametrize("kind", ["sleep", "body", "readiness"])
async def test_bulk_every_kind(client, account, kind: str) -> None:
    headers, _ = await account()
    _, value, stored = KINDS[kind]
    entries = [{"date": (DAY - timedelta(days=i)).isoformat(), **value} for i in range(3)]
    response = await client.post(
        f"/signals/{kind}/bulk", json={"entries": entries}, headers=headers
    )
    assert response.json() == {"imported": 3}, response.text
    assert await _range(client, headers, kind, DAY - timedelta(days=2), DAY) == [
        {"date": e["date"], **stored} for e in reversed(entries)
    ]


async def test_bad_bulk_imports_store_nothing(client, account, db) -> None:
    headers, user_id = await account()
    base = [{"date": (DAY - timedelta(days=i)).isoformat(), "kcal": 2000} for i in range(300)]

    def breaking(index: int, **change) -> list[dict]:
        entries = [dict(e) for e in base]
        entries[index] = {**entries[index], **change}
        return entries

    too_many = [{"date": (DAY - timedelta(days=i)).isoformat(), "kcal": 1} for i in range(367)]
    for body, field in [
        ({"entries": breaking(250, kcal=-5)}, "entries[250].kcal"),
        ({"entries": breaking(7, date=base[3]["date"])}, "entries[7].date"),
        (
            {"entries": breaking(299, date=(TODAY + timedelta(days=2)).isoformat())},
            "entries[299].date",
        ),
        ({"entries": breaking(5, date="1899-12-31")}, "entries[5].date"),
        ({"entries": breaking(1, date="not a date")}, "entries[1].date"),
        ({"entries": breaking(2, fiber_g=30)}, "entries[2].fiber_g"),
        ({"entries": [{"kcal": 1}]}, "entries[0].date"),
        ({"entries": [5]}, "entries[0]"),
        ({"entries": too_many}, "entries"),
        ({"entries": []}, "entries"),
        ({"entries": base, "replace": True}, "replace"),
        ({}, "entries"),
        (base, "body"),
    ]:
        response = await client.post("/signals/calories/bulk", json=body, headers=headers)
        assert field in fields(assert_problem(response, 422)), field
    # "At least one value" holds per entry.
    empty = {"entries": [{"date": DAY.isoformat(), "mood": 5}, {"date": TODAY.isoformat()}]}
    response = await client.post("/signals/readiness/bulk", json=empty, headers=headers)
    assert fields(assert_problem(response, 422)) == ["entries[1]"]
    assert await _rows(db, "calorie_logs", user_id) == 0
    assert await _rows(db, "readiness_logs", user_id) == 0


# --- ranges and deletion ------------------------------------------------------------


async def test_range_is_inclusive_ordered_and_limited(client, account) -> None:
    headers, _ = await account()
    for offset in (0, 1, 5, 40):
        day = TODAY - timedelta(days=offset)
        await client.put(f"/signals/sleep/{day}", json={"hours": 6 + offset / 100}, headers=headers)
    got = await _range(
        client, headers, "sleep", TODAY - timedelta(days=5), TODAY - timedelta(days=1)
    )
    assert [e["date"] for e in got] == [
        (TODAY - timedelta(days=5)).isoformat(),
        (TODAY - timedelta(days=1)).isoformat(),
    ]
    default = (await client.get("/signals/sleep", headers=headers)).json()
    assert [e["date"] for e in default] == [
        (TODAY - timedelta(days=d)).isoformat() for d in (5, 1, 0)
    ]
    year = await _range(client, headers, "sleep", TODAY - timedelta(days=365), TODAY)
    assert len(year) == 4
    for params, field in [
        ({"from": TODAY.isoformat(), "to": (TODAY - timedelta(days=1)).isoformat()}, "query.from"),
        ({"from": (TODAY - timedelta(days=366)).isoformat(), "to": TODAY.isoformat()}, "query.to"),
        ({"from": "2026-13-01"}, "query.from"),
        ({"to": "1 OR 1=1"}, "query.to"),
    ]:
        response = await client.get("/signals/sleep", params=params, headers=headers)
        assert field in fields(assert_problem(response, 422)), params


async def test_delete_a_day(client, account, db) -> None:
    headers, user_id = await account()
    await client.put(f"/signals/readiness/{DAY}", json={"energy": 4}, headers=headers)
    response = await client.delete(f"/signals/readiness/{DAY}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert_problem(await client.delete(f"/signals/readiness/{DAY}", headers=headers), 404)
    assert_problem(await client.delete(f"/signals/sleep/{DAY}", headers=headers), 404)
    assert await _rows(db, "readiness_logs", user_id) == 0


async def test_signals_are_private(client, account, db) -> None:
    headers, user_id = await account()
    other, other_id = await account()
    for kind, (_table, value, _stored) in KINDS.items():
        await client.put(f"/signals/{kind}/{DAY}", json=value, headers=headers)
    mine = {kind: await _range(client, headers, kind, DAY, DAY) for kind in KINDS}
    for kind in KINDS:
        assert await _range(client, other, kind, DAY, DAY) == []
        assert_problem(await client.delete(f"/signals/{kind}/{DAY}", headers=other), 404)
    # Their own value for the same day is theirs alone.
    await client.put(f"/signals/calories/{DAY}", json={"kcal": 999}, headers=other)
    bulk = {"entries": [{"date": DAY.isoformat(), "kcal": 1}]}
    assert (
        await client.post("/signals/calories/bulk", json=bulk, headers=other)
    ).status_code == 200
    assert {kind: await _range(client, headers, kind, DAY, DAY) for kind in KINDS} == mine
    for table, _value, _stored in KINDS.values():
        assert await _rows(db, table, user_id) == 1
    assert await _rows(db, "calorie_logs", other_id) == 1


# --- targets ------------------------------------------------------------------------


async def test_new_target_closes_the_active_one(client, account, db) -> None:
    headers, user_id = await account()
    assert (await client.get("/targets", headers=headers)).json() == {
        "calories": None,
        "sleep": None,
    }
    start = TODAY - timedelta(days=20)
    first = await client.post(
        "/targets/calories", json={"kcal": 2200, "starts_on": start.isoformat()}, headers=headers
    )
    assert first.status_code == 201, first.text
    assert first.json() == {
        "id": first.json()["id"],
        "kcal": 2200,
        "starts_on": start.isoformat(),
        "ends_on": None,
        "is_active": True,
    }
    second = await client.post("/targets/calories", json={"kcal": 2500}, headers=headers)
    assert second.status_code == 201 and second.json()["starts_on"] == TODAY.isoformat()

    history = (await client.get("/targets/calories/history", headers=headers)).json()
    assert [t["id"] for t in history] == [second.json()["id"], first.json()["id"]]
    assert history[1]["is_active"] is False
    assert history[1]["ends_on"] == (TODAY - timedelta(days=1)).isoformat()

    sleep = await client.post("/targets/sleep", json={"hours": 7.25}, headers=headers)
    assert sleep.status_code == 201 and sleep.json()["hours"] == 7.3  # one decimal
    active = (await client.get("/targets", headers=headers)).json()
    assert active == {"calories": second.json(), "sleep": sleep.json()}
    assert (await client.get("/targets/sleep/history", headers=headers)).json() == [sleep.json()]
    stored = await db.fetchval(
        "SELECT count(*) FROM calorie_targets WHERE user_id = $1 AND is_active", user_id
    )
    assert stored == 1


async def test_bad_targets_are_422_and_change_nothing(client, account) -> None:
    headers, _ = await account()
    start = TODAY - timedelta(days=10)
    await client.post(
        "/targets/calories", json={"kcal": 2200, "starts_on": start.isoformat()}, headers=headers
    )
    await client.post(
        "/targets/sleep", json={"hours": 8, "starts_on": start.isoformat()}, headers=headers
    )
    before = (await client.get("/targets", headers=headers)).json()
    for path, body, field in [
        ("/targets/calories", {"kcal": 2300, "starts_on": start.isoformat()}, "starts_on"),
        ("/targets/calories", {"kcal": 2300, "starts_on": "2000-01-01"}, "starts_on"),
        ("/targets/calories", {"kcal": 2300, "starts_on": "1850-01-01"}, "starts_on"),
        ("/targets/calories", {"kcal": 2300, "starts_on": "2999-01-01"}, "starts_on"),
        ("/targets/calories", {"kcal": 799}, "kcal"),
        ("/targets/calories", {"kcal": 8001}, "kcal"),
        ("/targets/calories", {"kcal": "lots"}, "kcal"),
        ("/targets/calories", {"kcal": 2000, "is_active": False}, "is_active"),
        ("/targets/calories", {}, "kcal"),
        ("/targets/sleep", {"hours": 2.9}, "hours"),
        ("/targets/sleep", {"hours": 14.1}, "hours"),
        ("/targets/sleep", {"hours": 8, "starts_on": start.isoformat()}, "starts_on"),
        ("/targets/sleep", {"hours": 8, "user_id": str(uuid.uuid4())}, "user_id"),
    ]:
        response = await client.post(path, json=body, headers=headers)
        assert field in fields(assert_problem(response, 422)), (path, body)
    assert (await client.get("/targets", headers=headers)).json() == before
    assert len((await client.get("/targets/calories/history", headers=headers)).json()) == 1
    for path in ("/targets/water/history", "/targets/body/history"):
        response = await client.get(path, headers=headers)
        assert fields(assert_problem(response, 422)) == ["path.kind"]


async def test_concurrent_first_targets_leave_exactly_one(live, account, db) -> None:
    headers, user_id = await account()
    body = {"kcal": 2100, "starts_on": TODAY.isoformat()}
    answers = await asyncio.gather(
        *(live.post("/targets/calories", json=body, headers=headers) for _ in range(4))
    )
    statuses = sorted(a.status_code for a in answers)
    # One wins; the others collide on the one-active index (409) or, if they ran after it,
    # find it active with the same start (422). Never two active targets, never a 500.
    assert statuses[0] == 201 and set(statuses[1:]) <= {409, 422}, [a.text for a in answers]
    for answer in answers[1:]:
        if answer.status_code != 201:
            assert_problem(answer, answer.status_code)
    active = await db.fetchval(
        "SELECT count(*) FROM calorie_targets WHERE user_id = $1 AND is_active", user_id
    )
    assert active == 1


async def test_concurrent_handovers_leave_exactly_one_active(live, account, db) -> None:
    headers, user_id = await account()
    earlier = (TODAY - timedelta(days=30)).isoformat()
    first = await live.post(
        "/targets/sleep", json={"hours": 7, "starts_on": earlier}, headers=headers
    )
    assert first.status_code == 201
    answers = await asyncio.gather(
        *(
            live.post(
                "/targets/sleep",
                json={"hours": 8 + i / 10, "starts_on": (TODAY - timedelta(days=i)).isoformat()},
                headers=headers,
            )
            for i in range(4)
        )
    )
    assert 201 in {a.status_code for a in answers}
    assert {a.status_code for a in answers} <= {201, 409, 422}, [a.text for a in answers]
    rows = await db.fetch(
        "SELECT hours::float8 AS hours, starts_on, ends_on, is_active FROM sleep_targets "
        "WHERE user_id = $1 ORDER BY starts_on",
        user_id,
    )
    assert sum(r["is_active"] for r in rows) == 1
    # Every closed target ends the day before its successor starts.
    for previous, following in itertools.pairwise(rows):
        assert previous["ends_on"] == following["starts_on"] - timedelta(days=1)
    active = (await live.get("/targets", headers=headers)).json()["sleep"]
    assert active["hours"] == rows[-1]["hours"] and rows[-1]["is_active"]


async def test_targets_are_private(client, account) -> None:
    headers, _ = await account()
    other, _ = await account()
    await client.post("/targets/calories", json={"kcal": 2200}, headers=headers)
    assert (await client.get("/targets", headers=other)).json() == {"calories": None, "sleep": None}
    assert (await client.get("/targets/calories/history", headers=other)).json() == []
    # Their own target does not touch mine.
    assert (
        await client.post("/targets/calories", json={"kcal": 3000}, headers=other)
    ).status_code == 201
    assert (await client.get("/targets", headers=headers)).json()["calories"]["kcal"] == 2200
    assert_problem(await client.get("/targets"), 401)


async def test_openapi_documents_the_signal_operations(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    ids = {
        op["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith(("/signals", "/targets"))
        for op in item.values()
    }
    assert ids == {
        "putSignal",
        "importSignals",
        "listSignals",
        "deleteSignal",
        "getTargets",
        "setCalorieTarget",
        "setSleepTarget",
        "listTargetHistory",
    }
    put = schema["paths"]["/signals/{kind}/{day}"]["put"]
    kind = next(p for p in put["parameters"] if p["name"] == "kind")
    assert set(kind["schema"]["enum"]) == {"calories", "sleep", "body", "readiness"}
    bodies = put["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [b["title"] for b in bodies] == [
        "CaloriesValue",
        "SleepValue",
        "BodyValue",
        "ReadinessValue",
    ]
    assert bodies[0]["properties"]["kcal"]["maximum"] == 20000

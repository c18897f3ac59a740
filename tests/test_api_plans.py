"""Plan versions through the real app: manual plans checked by the plan contract, the
current plan, history, one version, activating an older version, and the diff between
two versions (plus unit tests of the pure diff)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import asyncpg
import pytest

from fitsense_api.errors import NotFound
from fitsense_api.plans import services as plan_services
from fitsense_api.profile.services import load_user_profile
from fitsense_core.coach.plans import create_plan
from fitsense_core.plan_contract import Plan, resolve_exercise
from fitsense_core.plan_metrics import mean_target_rir, weekly_hard_sets
from tests.api_helpers import ONBOARDING, assert_problem

pytestmark = pytest.mark.anyio

# Three days a week, dumbbells and a bench; shoulder impingement blocks overhead work, a
# recovering knee injury blocks knee-loading and high-impact work.


def _set(number: int, reps: int = 8, rir: int = 2, rest: int = 90) -> dict[str, int]:
    return {"set_number": number, "target_reps": reps, "target_rir": rir, "rest_seconds": rest}


def _exercise(name: str, position: int, sets: int = 3, **kw: Any) -> dict[str, Any]:
    return {
        "exercise_name": name,
        "position": position,
        "notes": None,
        "sets": [_set(n, **kw) for n in range(1, sets + 1)],
    }


def hand_plan() -> dict[str, Any]:
    """A small valid plan for ONBOARDING, written by hand from catalog names."""
    return {
        "plan_name": "Upper, lower, full",
        "days": [
            {
                "name": "UPPER_1",
                "day_order": 1,
                "notes": "Start light.",
                "exercises": [
                    _exercise("Dumbbell Bench Press", 1),
                    _exercise("Chest-Supported Dumbbell Row", 2),
                    _exercise("Dumbbell Lateral Raise", 3, reps=12),
                ],
            },
            {"name": "REST_1", "day_order": 2, "notes": None, "exercises": []},
            {
                "name": "LOWER_1",
                "day_order": 3,
                "notes": None,
                "exercises": [
                    _exercise("Dumbbell Romanian Deadlift", 1),
                    _exercise("Dumbbell Calf Raise", 2, reps=12),
                ],
            },
            {"name": "REST_2", "day_order": 4, "notes": None, "exercises": []},
            {
                "name": "FULL_BODY_1",
                "day_order": 5,
                "notes": None,
                "exercises": [
                    _exercise("Incline Dumbbell Press", 1),
                    _exercise("Dumbbell Bent-Over Row", 2),
                ],
            },
        ],
    }


async def _onboarded(client, new_account) -> tuple[dict, uuid.UUID]:
    headers, body = await new_account()
    response = await client.put("/onboarding", json=ONBOARDING, headers=headers)
    assert response.status_code == 200, response.text
    return headers, uuid.UUID(body["user"]["id"])


async def _rows(api_db: str, user_id: uuid.UUID) -> list[dict]:
    """Every stored row of the user's plans, children included (to prove nothing changed)."""
    conn = await asyncpg.connect(api_db)
    try:
        plans = await conn.fetch(
            "SELECT * FROM workout_plans WHERE user_id = $1 ORDER BY version", user_id
        )
        children = await conn.fetch(
            "SELECT d.plan_id, d.name, d.day_order, d.notes, e.exercise_id, e.position, "
            "e.notes AS ex_notes, s.set_number, s.target_reps, s.target_rir, s.rest_seconds "
            "FROM workout_plans p JOIN plan_days d ON d.plan_id = p.id "
            "LEFT JOIN plan_exercises e ON e.plan_day_id = d.id "
            "LEFT JOIN plan_sets s ON s.plan_exercise_id = e.id WHERE p.user_id = $1 "
            "ORDER BY d.plan_id, d.day_order, e.position, s.set_number",
            user_id,
        )
        return [dict(r) for r in plans] + [dict(r) for r in children]
    finally:
        await conn.close()


async def _plan_count(api_db: str, user_id: uuid.UUID) -> int:
    conn = await asyncpg.connect(api_db)
    try:
        return await conn.fetchval("SELECT count(*) FROM workout_plans WHERE user_id = $1", user_id)
    finally:
        await conn.close()


async def _coach_plan(api_db: str, user_id: uuid.UUID) -> Plan:
    """The rules coach's plan for the person as the API stores them."""
    conn = await asyncpg.connect(api_db)
    try:
        profile = await load_user_profile(conn, user_id)
    finally:
        await conn.close()
    assert profile is not None
    return create_plan(profile)


def _canonical_json(plan: dict[str, Any]) -> dict[str, Any]:
    return plan_services.canonical(Plan.model_validate(plan)).model_dump()


# --- reading -------------------------------------------------------------------------------


async def test_no_plan_yet(client, new_account) -> None:
    headers, _ = await new_account()
    body = assert_problem(await client.get("/plans/current", headers=headers), 404)
    assert "no active plan" in body["detail"]
    assert (await client.get("/plans", headers=headers)).json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }
    assert_problem(await client.get(f"/plans/{uuid.uuid4()}", headers=headers), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/plans"),
        ("GET", "/plans/current"),
        ("POST", "/plans"),
        ("GET", f"/plans/{uuid.UUID(int=1)}"),
        ("GET", f"/plans/{uuid.UUID(int=1)}/diff?against={uuid.UUID(int=2)}"),
        ("POST", f"/plans/{uuid.UUID(int=1)}/activate"),
    ],
)
async def test_every_endpoint_needs_a_token(client, method: str, path: str) -> None:
    assert_problem(await client.request(method, path, json=hand_plan()), 401)


# --- manual plans ------------------------------------------------------------------------------


async def test_manual_plan_needs_onboarding_first(client, api_db: str, new_account) -> None:
    headers, body = await new_account()
    problem = assert_problem(await client.post("/plans", json=hand_plan(), headers=headers), 409)
    assert "onboarding" in problem["detail"]
    assert await _plan_count(api_db, uuid.UUID(body["user"]["id"])) == 0


async def test_coach_plan_is_stored_and_reads_back_in_the_contract_shape(
    client, api_db: str, new_account
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    plan = await _coach_plan(api_db, user_id)
    created = await client.post("/plans", json=plan.model_dump(), headers=headers)
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["version"] == 1 and version["is_active"] is True
    assert version["source"] == "manual" and version["model_version"] is None
    assert version["parent_plan_id"] is None and version["name"] == plan.plan_name
    assert version["plan"] == plan_services.canonical(plan).model_dump()
    assert created.headers["location"] == f"/plans/{version['id']}"
    # The stored document is a valid contract plan for this person.
    assert Plan.model_validate(version["plan"]) == plan_services.canonical(plan)

    assert (await client.get("/plans/current", headers=headers)).json() == version
    assert (await client.get(f"/plans/{version['id']}", headers=headers)).json() == version
    history = (await client.get("/plans", headers=headers)).json()
    assert history["total"] == 1
    (summary,) = history["items"]
    assert summary["id"] == version["id"]
    assert summary["days"] == len(plan.days)
    assert summary["training_days"] == len(plan.training_days()) == 3
    assert "plan" not in summary

    rows = await _rows(api_db, user_id)
    sets = [r for r in rows if r.get("set_number") is not None]
    assert len(sets) == sum(len(e.sets) for d in plan.days for e in d.exercises)


async def test_hand_written_plan_names_are_normalized_to_the_catalog(client, new_account) -> None:
    headers, _ = await _onboarded(client, new_account)
    plan = hand_plan()
    plan["days"][0]["exercises"][0]["exercise_name"] = "dumbbell_bench_press"
    plan["days"][0]["exercises"][1]["exercise_name"] = "  chest supported DUMBBELL row "
    plan["days"].reverse()  # any order in, ordered out
    created = await client.post("/plans", json=plan, headers=headers)
    assert created.status_code == 201, created.text
    stored = created.json()["plan"]
    assert [d["day_order"] for d in stored["days"]] == [1, 2, 3, 4, 5]
    names = [e["exercise_name"] for e in stored["days"][0]["exercises"]]
    assert names == [
        "Dumbbell Bench Press",
        "Chest-Supported Dumbbell Row",
        "Dumbbell Lateral Raise",
    ]
    assert stored["days"][0]["notes"] == "Start light."


async def test_sql_looking_plan_name_is_stored_verbatim(client, api_db, new_account) -> None:
    headers, user_id = await _onboarded(client, new_account)
    plan = hand_plan()
    plan["plan_name"] = "x'); DROP TABLE workout_plans; --"
    created = await client.post("/plans", json=plan, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["plan"]["plan_name"] == plan["plan_name"]
    assert await _plan_count(api_db, user_id) == 1


async def test_new_manual_version_replaces_the_active_one(client, api_db, new_account) -> None:
    headers, user_id = await _onboarded(client, new_account)
    first = (await client.post("/plans", json=hand_plan(), headers=headers)).json()
    changed = hand_plan()
    changed["days"][0]["exercises"][0]["sets"][0]["target_reps"] = 10
    second = await client.post("/plans", json=changed, headers=headers)
    assert second.status_code == 201, second.text
    second = second.json()
    assert second["version"] == 2 and second["is_active"]
    assert second["parent_plan_id"] == first["id"]
    old = (await client.get(f"/plans/{first['id']}", headers=headers)).json()
    assert old["is_active"] is False and old["plan"] == first["plan"]
    assert (await client.get("/plans/current", headers=headers)).json()["id"] == second["id"]

    for _ in range(3):
        changed["days"][0]["exercises"][0]["sets"][0]["target_reps"] += 1
        assert (await client.post("/plans", json=changed, headers=headers)).status_code == 201
    history = (await client.get("/plans", headers=headers)).json()
    assert history["total"] == 5
    assert [i["version"] for i in history["items"]] == [5, 4, 3, 2, 1]
    assert [i["is_active"] for i in history["items"]] == [True, False, False, False, False]
    page = (await client.get("/plans?limit=2&offset=1", headers=headers)).json()
    assert [i["version"] for i in page["items"]] == [4, 3]
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    past_the_end = (await client.get("/plans?offset=50", headers=headers)).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 5
    conn = await asyncpg.connect(api_db)
    try:
        active = await conn.fetchval(
            "SELECT count(*) FROM workout_plans WHERE user_id = $1 AND is_active", user_id
        )
    finally:
        await conn.close()
    assert active == 1


async def test_resubmitting_the_active_plan_is_409_and_stores_nothing(
    client, api_db, new_account
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    assert (await client.post("/plans", json=hand_plan(), headers=headers)).status_code == 201
    before = await _rows(api_db, user_id)
    again = hand_plan()
    again["days"][0]["exercises"][0]["exercise_name"] = "dumbbell bench press"  # same exercise
    body = assert_problem(await client.post("/plans", json=again, headers=headers), 409)
    assert "identical to the active version 1" in body["detail"]
    assert await _rows(api_db, user_id) == before


async def test_concurrent_manual_plans_get_distinct_versions(client, api_db, new_account) -> None:
    headers, user_id = await _onboarded(client, new_account)
    plans = []
    for reps in range(6, 12):
        plan = hand_plan()
        plan["days"][0]["exercises"][0]["sets"][0]["target_reps"] = reps
        plans.append(plan)
    responses = await asyncio.gather(
        *(client.post("/plans", json=p, headers=headers) for p in plans)
    )
    assert [r.status_code for r in responses] == [201] * len(plans)
    assert sorted(r.json()["version"] for r in responses) == list(range(1, len(plans) + 1))
    history = (await client.get("/plans", headers=headers)).json()
    assert sum(i["is_active"] for i in history["items"]) == 1
    assert history["items"][0]["is_active"] and history["items"][0]["version"] == len(plans)
    assert await _plan_count(api_db, user_id) == len(plans)


def _edit(path: list[Any], value: Any):
    def apply(plan: dict[str, Any]) -> dict[str, Any]:
        target = plan
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return plan

    return apply


_DELETE = object()
E00 = ["days", 0, "exercises", 0]


def _drop_training_day(plan: dict[str, Any]) -> dict[str, Any]:
    plan["days"] = [d for d in plan["days"] if d["name"] != "FULL_BODY_1"]
    return plan


def _duplicate_set(plan: dict[str, Any]) -> dict[str, Any]:
    plan["days"][0]["exercises"][0]["sets"][1]["set_number"] = 1
    return plan


def _several(plan: dict[str, Any]) -> dict[str, Any]:
    plan["days"][0]["exercises"][0]["sets"][0]["target_reps"] = 0
    plan["days"][2]["exercises"][0]["exercise_name"] = "Goblet Squat"
    plan["days"][4]["exercises"][1]["exercise_name"] = "Moon Walk"
    return plan


@pytest.mark.parametrize(
    ("edit", "violations"),
    [
        # contraindicated for the knee injury (knee_loading)
        (
            _edit([*E00, "exercise_name"], "Goblet Squat"),
            [("days[0].exercises[0].exercise_name", "contraindicated")],
        ),
        # contraindicated for shoulder impingement (overhead)
        (
            _edit([*E00, "exercise_name"], "Dumbbell Overhead Triceps Extension"),
            [("days[0].exercises[0].exercise_name", "contraindicated")],
        ),
        # needs a barbell the person does not have
        (
            _edit([*E00, "exercise_name"], "Barbell Curl"),
            [("days[0].exercises[0].exercise_name", "equipment")],
        ),
        (_drop_training_day, [("days", "days_per_week")]),
        (
            _edit([*E00, "sets", 0, "target_reps"], 0),
            [("days[0].exercises[0].sets[0].target_reps", "range")],
        ),
        (
            _edit([*E00, "sets", 0, "target_reps"], 10**12),
            [("days[0].exercises[0].sets[0].target_reps", "range")],
        ),
        (
            _edit([*E00, "sets", 0, "target_rir"], -1),
            [("days[0].exercises[0].sets[0].target_rir", "range")],
        ),
        # fits the contract's 1-30 but not the goal's rep range
        (
            _edit([*E00, "sets", 0, "target_reps"], 30),
            [("days[0].exercises[0].sets[0].target_reps", "rep_range")],
        ),
        (_duplicate_set, [("days[0].exercises[0].sets[1].set_number", "duplicate")]),
        (
            _edit([*E00, "exercise_name"], "Unicorn Press"),
            [("days[0].exercises[0].exercise_name", "unknown_exercise")],
        ),
        (
            _edit([*E00, "exercise_name"], "x'); DROP TABLE plan_sets; --"),
            [("days[0].exercises[0].exercise_name", "unknown_exercise")],
        ),
        (_edit(["owner_id"], str(uuid.UUID(int=7))), [("owner_id", "unknown_field")]),
        (
            _edit([*E00, "sets", 0, "weight_kg"], 40),
            [("days[0].exercises[0].sets[0].weight_kg", "weights")],
        ),
        (
            _edit([*E00, "notes"], "use 20 kg dumbbells"),
            [("days[0].exercises[0].notes", "weights")],
        ),
        (
            _edit([*E00, "sets", 0, "target_reps"], "8"),
            [("days[0].exercises[0].sets[0].target_reps", "type")],
        ),
        (_edit(["days", 0, "day_order"], 1.5), [("days[0].day_order", "type")]),
        (_edit(["days", 0, "exercises"], "none"), [("days[0].exercises", "type")]),
        (_edit(["days", 0, "name"], "upper; DROP"), [("days[0].name", "structure")]),
        (_edit(["plan_name"], _DELETE), [("plan_name", "structure")]),
        (_edit(["plan_name"], "   "), [("plan_name", "structure")]),
        (
            _edit(["days", 1, "exercises"], [_exercise("Hammer Curl", 1)]),
            [("days[1].exercises", "rest_day")],
        ),
        (
            _several,
            [
                ("days[0].exercises[0].sets[0].target_reps", "range"),
                ("days[2].exercises[0].exercise_name", "contraindicated"),
                ("days[4].exercises[1].exercise_name", "unknown_exercise"),
            ],
        ),
    ],
)
async def test_invalid_manual_plans_are_422_with_every_violation_and_store_nothing(
    client, api_db, new_account, edit, violations
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    assert (await client.post("/plans", json=hand_plan(), headers=headers)).status_code == 201
    before = await _rows(api_db, user_id)
    body = assert_problem(
        await client.post("/plans", json=edit(copy.deepcopy(hand_plan())), headers=headers), 422
    )
    reported = {(e["field"], e["code"]) for e in body["errors"]}
    assert set(violations) <= reported, body["errors"]
    assert all(e["message"] for e in body["errors"])
    assert await _rows(api_db, user_id) == before


async def test_a_flood_of_violations_is_reported_in_a_bounded_answer(
    client, api_db, new_account
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    plan = hand_plan()
    # The largest plan the contract takes (7 days, 12 exercises, 10 sets), every set wrong.
    plan["days"] = [
        {
            "name": f"DAY_{d}",
            "day_order": d,
            "notes": None,
            "exercises": [
                _exercise("Dumbbell Bench Press", p, sets=10, reps=0) for p in range(1, 13)
            ],
        }
        for d in range(1, 8)
    ]
    body = assert_problem(await client.post("/plans", json=plan, headers=headers), 422)
    assert len(body["errors"]) == plan_services.MAX_REPORTED
    assert "the first 200 are listed" in body["detail"]
    assert await _plan_count(api_db, user_id) == 0


@pytest.mark.parametrize(
    ("content", "statuses", "field"),
    [
        (b"[1, 2, 3]", {422}, "body"),
        (b'"a plan"', {422}, "body"),
        (b"null", {422}, "body"),
        (b'{"plan_name": "x", "days": [', {400}, None),
        (b"", {400, 422}, None),
    ],
)
async def test_non_object_and_malformed_bodies_are_4xx(
    client, api_db, new_account, content: bytes, statuses: set[int], field: str | None
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    response = await client.post(
        "/plans", content=content, headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code in statuses, response.text
    body = assert_problem(response, response.status_code)
    if field:
        assert any(e["field"] == field for e in body["errors"]), body
    assert await _plan_count(api_db, user_id) == 0


# --- another user's plans ---------------------------------------------------------------------------


async def test_another_users_plans_are_404_everywhere(client, api_db, new_account) -> None:
    headers_a, user_a = await _onboarded(client, new_account)
    a1 = (await client.post("/plans", json=hand_plan(), headers=headers_a)).json()
    changed = hand_plan()
    changed["plan_name"] = "A's second"
    a2 = (await client.post("/plans", json=changed, headers=headers_a)).json()
    headers_b, _ = await _onboarded(client, new_account)
    b1 = (await client.post("/plans", json=hand_plan(), headers=headers_b)).json()
    before = await _rows(api_db, user_a)

    assert_problem(await client.get(f"/plans/{a1['id']}", headers=headers_b), 404)
    assert_problem(await client.post(f"/plans/{a1['id']}/activate", headers=headers_b), 404)
    assert_problem(
        await client.get(f"/plans/{b1['id']}/diff?against={a1['id']}", headers=headers_b), 404
    )
    assert_problem(
        await client.get(f"/plans/{a2['id']}/diff?against={b1['id']}", headers=headers_b), 404
    )
    history_b = (await client.get("/plans", headers=headers_b)).json()
    assert [i["id"] for i in history_b["items"]] == [b1["id"]]
    assert (await client.get("/plans/current", headers=headers_b)).json()["id"] == b1["id"]
    assert await _rows(api_db, user_a) == before


@pytest.mark.parametrize(
    "path",
    ["/plans/not-a-uuid", "/plans/1%27%20OR%201=1", "/plans/00000000-0000-0000-0000-00000000000g"],
)
async def test_malformed_plan_ids_are_404(client, new_account, path: str) -> None:
    headers, _ = await new_account()
    assert_problem(await client.get(path, headers=headers), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999", "offset"),
    ],
)
async def test_history_paging_out_of_range_is_422(client, new_account, query, field) -> None:
    headers, _ = await new_account()
    body = assert_problem(await client.get(f"/plans?{query}", headers=headers), 422)
    assert any(field in e["field"] for e in body["errors"]), body


# --- activating an older version -------------------------------------------------------------------


async def test_activating_an_older_version_copies_it_into_a_new_version(
    client, api_db, new_account
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    v1 = (await client.post("/plans", json=hand_plan(), headers=headers)).json()
    changed = hand_plan()
    changed["plan_name"] = "Harder"
    changed["days"][0]["exercises"][0]["sets"][0]["target_rir"] = 1
    v2 = (await client.post("/plans", json=changed, headers=headers)).json()
    before = await _rows(api_db, user_id)

    response = await client.post(f"/plans/{v1['id']}/activate", headers=headers)
    assert response.status_code == 201, response.text
    v3 = response.json()
    assert v3["version"] == 3 and v3["is_active"] and v3["id"] not in (v1["id"], v2["id"])
    assert v3["parent_plan_id"] == v1["id"]
    assert v3["plan"] == v1["plan"] and v3["name"] == v1["name"]
    assert v3["source"] == v1["source"] and v3["model_version"] == v1["model_version"]
    assert (await client.get("/plans/current", headers=headers)).json() == v3

    after = await _rows(api_db, user_id)
    plans_before = [r for r in before if "version" in r]
    plans_after = [r for r in after if "version" in r]
    assert len(plans_after) == len(plans_before) + 1
    # The old rows are unchanged but for v2 no longer being the active one.
    expected = [dict(r, is_active=False) for r in plans_before]
    assert plans_after[:2] == expected
    children_before = [r for r in before if "version" not in r]
    children_after = [r for r in after if "version" not in r]
    assert [r for r in children_after if r["plan_id"] != uuid.UUID(v3["id"])] == children_before

    assert response.headers["location"] == f"/plans/{v3['id']}"

    # The version that is active already: 409, nothing stored.
    again = assert_problem(await client.post(f"/plans/{v3['id']}/activate", headers=headers), 409)
    assert "already the active version" in again["detail"]
    assert await _rows(api_db, user_id) == after
    # The same request again (v1's content is active as v3): 409, no second copy.
    repeated = assert_problem(
        await client.post(f"/plans/{v1['id']}/activate", headers=headers), 409
    )
    assert "already the active plan (version 3)" in repeated["detail"]
    assert repeated["errors"][0]["field"] == "plan_id"
    assert await _rows(api_db, user_id) == after
    # Going forward again works: v2's content becomes version 4.
    forward = await client.post(f"/plans/{v2['id']}/activate", headers=headers)
    assert forward.status_code == 201, forward.text
    assert forward.json()["version"] == 4 and forward.json()["plan"] == v2["plan"]
    assert forward.json()["parent_plan_id"] == v2["id"]
    after = await _rows(api_db, user_id)
    assert_problem(await client.post(f"/plans/{uuid.uuid4()}/activate", headers=headers), 404)
    assert await _rows(api_db, user_id) == after


async def test_activation_keeps_the_source_and_model_version_of_the_original(
    client, api_db, new_account
) -> None:
    headers, user_id = await _onboarded(client, new_account)
    model_plan = Plan.model_validate(hand_plan())
    conn = await asyncpg.connect(api_db)
    try:
        model_id = await plan_services.insert_plan_version(
            conn,
            user_id,
            model_plan,
            source="student",
            model_version="student-2026.10.1",
            parent_plan_id=None,
        )
        # A draft that is not activated leaves the active plan alone.
        draft_id = await plan_services.insert_plan_version(
            conn,
            user_id,
            model_plan,
            source="rules",
            model_version=None,
            parent_plan_id=model_id,
            activate=False,
        )
        active = await plan_services.load_active_plan(conn, user_id)
        draft = await plan_services.load_plan(conn, user_id, draft_id)
    finally:
        await conn.close()
    assert active.id == model_id and draft.is_active is False and draft.version == 2
    assert draft.parent_plan_id == model_id

    manual = hand_plan()
    manual["plan_name"] = "My own"
    assert (await client.post("/plans", json=manual, headers=headers)).status_code == 201
    response = await client.post(f"/plans/{model_id}/activate", headers=headers)
    assert response.status_code == 201, response.text
    copy_of_model = response.json()
    assert copy_of_model["version"] == 4 and copy_of_model["parent_plan_id"] == str(model_id)
    assert copy_of_model["source"] == "student"
    assert copy_of_model["model_version"] == "student-2026.10.1"


async def test_a_parent_of_another_user_is_refused(client, api_db, new_account) -> None:
    headers_a, _ = await _onboarded(client, new_account)
    a1 = (await client.post("/plans", json=hand_plan(), headers=headers_a)).json()
    _, user_b = await _onboarded(client, new_account)
    conn = await asyncpg.connect(api_db)
    try:
        with pytest.raises(NotFound):
            await plan_services.insert_plan_version(
                conn,
                user_b,
                Plan.model_validate(hand_plan()),
                source="manual",
                model_version=None,
                parent_plan_id=uuid.UUID(a1["id"]),
            )
    finally:
        await conn.close()
    assert await _plan_count(api_db, user_b) == 0


# --- the diff ------------------------------------------------------------------------------------------


async def test_diff_between_two_versions(client, new_account) -> None:
    headers, _ = await _onboarded(client, new_account)
    old = (await client.post("/plans", json=hand_plan(), headers=headers)).json()
    new_plan = hand_plan()
    new_plan["plan_name"] = "Upper, lower, full v2"
    upper = new_plan["days"][0]
    upper["name"] = "PUSH_PULL_1"
    upper["exercises"][0]["sets"][0].update(target_reps=6, target_rir=1)
    upper["exercises"][0]["sets"].append(_set(4))
    upper["exercises"][1]["sets"].pop()  # set 3 removed
    upper["exercises"][2]["notes"] = "Slow eccentric."
    upper["exercises"][2]["position"] = 4
    upper["exercises"].append(_exercise("Hammer Curl", 3, reps=10))
    new_plan["days"][2]["exercises"].pop(1)  # Dumbbell Calf Raise removed
    new_plan["days"].append({"name": "REST_3", "day_order": 6, "notes": None, "exercises": []})
    new = (await client.post("/plans", json=new_plan, headers=headers)).json()

    response = await client.get(f"/plans/{new['id']}/diff?against={old['id']}", headers=headers)
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["from_plan_id"] == old["id"] and diff["from_version"] == 1
    assert diff["to_plan_id"] == new["id"] and diff["to_version"] == 2
    assert diff["identical"] is False
    assert diff["plan_name"] == {"from": "Upper, lower, full", "to": "Upper, lower, full v2"}
    assert [d["name"] for d in diff["days_added"]] == ["REST_3"] and diff["days_removed"] == []
    upper_change, lower_change = diff["days_changed"]
    assert upper_change["day_order"] == 1
    assert upper_change["name"] == {"from": "UPPER_1", "to": "PUSH_PULL_1"}
    assert upper_change["notes"] is None
    assert [e["exercise_name"] for e in upper_change["exercises_added"]] == ["Hammer Curl"]
    assert upper_change["exercises_removed"] == []
    press, row, raise_ = upper_change["exercises_changed"]
    assert press["exercise_name"] == "Dumbbell Bench Press" and press["position"] is None
    assert press["sets_changed"] == [
        {
            "set_number": 1,
            "target_reps": {"from": 8, "to": 6},
            "target_rir": {"from": 2, "to": 1},
            "rest_seconds": None,
        }
    ]
    assert press["sets_added"] == [_set(4)] and press["sets_removed"] == []
    assert row["sets_removed"] == [_set(3)] and row["sets_added"] == row["sets_changed"] == []
    assert raise_["position"] == {"from": 3, "to": 4}
    assert raise_["notes"] == {"from": None, "to": "Slow eccentric."}
    assert lower_change["day_order"] == 3
    assert [e["exercise_name"] for e in lower_change["exercises_removed"]] == [
        "Dumbbell Calf Raise"
    ]
    old_plan, changed = Plan.model_validate(old["plan"]), Plan.model_validate(new["plan"])
    assert diff["summary"] == {
        "training_days": {"from": 3, "to": 3},
        "weekly_hard_sets": {"from": weekly_hard_sets(old_plan), "to": weekly_hard_sets(changed)},
        "mean_target_rir": {"from": mean_target_rir(old_plan), "to": mean_target_rir(changed)},
    }
    assert diff["summary"]["weekly_hard_sets"] == {"from": 21, "to": 21 + 1 - 1 - 3 + 3}

    same = (
        await client.get(f"/plans/{new['id']}/diff?against={new['id']}", headers=headers)
    ).json()
    assert same["identical"] is True and same["days_changed"] == [] and same["plan_name"] is None


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("", 422, "against"),
        ("?against=not-a-uuid", 422, "against"),
        ("?against=1'%20OR%20'1'='1", 422, "against"),
    ],
)
async def test_diff_with_a_bad_against_is_4xx(client, new_account, query, status, field) -> None:
    headers, _ = await _onboarded(client, new_account)
    v1 = (await client.post("/plans", json=hand_plan(), headers=headers)).json()
    body = assert_problem(
        await client.get(f"/plans/{v1['id']}/diff{query}", headers=headers), status
    )
    named = [e["field"] for e in body.get("errors", [])] or [body["detail"]]
    assert any(field in f for f in named), body


async def test_diff_against_a_missing_version_is_404(client, new_account) -> None:
    headers, _ = await _onboarded(client, new_account)
    v1 = (await client.post("/plans", json=hand_plan(), headers=headers)).json()
    assert_problem(
        await client.get(f"/plans/{v1['id']}/diff?against={uuid.uuid4()}", headers=headers), 404
    )
    assert_problem(
        await client.get(f"/plans/{uuid.uuid4()}/diff?against={v1['id']}", headers=headers), 404
    )


def _plan(days: list[dict[str, Any]], name: str = "P") -> Plan:
    return Plan.model_validate({"plan_name": name, "days": days})


def _day(order: int, name: str, exercises: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "day_order": order, "notes": None, "exercises": exercises}


def test_diff_of_identical_plans_is_empty() -> None:
    plan = Plan.model_validate(hand_plan())
    diff = plan_services.diff_plans(plan, plan)
    assert diff.identical and diff.plan_name is None
    assert diff.days_added == diff.days_removed == diff.days_changed == []
    assert diff.summary.weekly_hard_sets.old == diff.summary.weekly_hard_sets.new == 21


def test_diff_matches_days_by_order_and_exercises_by_catalog_identity() -> None:
    old = _plan(
        [
            _day(1, "A_1", [_exercise("Goblet Squat", 1, sets=2), _exercise("Hammer Curl", 2)]),
            _day(2, "B_1", [_exercise("Dumbbell Fly", 1)]),
        ]
    )
    new = _plan(
        [
            # the same exercises under other spellings and swapped positions
            _day(1, "A_1", [_exercise("hammer_curl", 1), _exercise("goblet squat", 2, sets=2)]),
            _day(3, "C_1", [_exercise("Dumbbell Fly", 1)]),
        ]
    )
    diff = plan_services.diff_plans(old, new)
    assert [d.day_order for d in diff.days_added] == [3]
    assert [d.day_order for d in diff.days_removed] == [2]
    (day,) = diff.days_changed
    assert day.exercises_added == day.exercises_removed == []
    positions = {e.exercise_name: (e.position.old, e.position.new) for e in day.exercises_changed}
    assert positions == {"hammer_curl": (2, 1), "goblet squat": (1, 2)}
    assert all(not e.sets_changed for e in day.exercises_changed)


def test_diff_pairs_repeated_exercises_in_order() -> None:
    old = _plan([_day(1, "A_1", [_exercise("Hammer Curl", 1), _exercise("Hammer Curl", 2)])])
    new = _plan(
        [
            _day(
                1,
                "A_1",
                [
                    _exercise("Hammer Curl", 1),
                    _exercise("Hammer Curl", 2, reps=12),
                    _exercise("Hammer Curl", 3),
                ],
            )
        ]
    )
    (day,) = plan_services.diff_plans(old, new).days_changed
    assert [e.position for e in day.exercises_added] == [3]
    (changed,) = day.exercises_changed
    assert changed.position is None
    assert [(c.set_number, c.target_reps.old, c.target_reps.new) for c in changed.sets_changed] == [
        (1, 8, 12),
        (2, 8, 12),
        (3, 8, 12),
    ]


def test_diff_summary_counts_only_strength_sets() -> None:
    walk = {
        "exercise_name": "Brisk Walk",
        "position": 2,
        "notes": "20 min at a conversational pace",
        "sets": [{"set_number": 1, "target_reps": 1, "target_rir": 3, "rest_seconds": 0}],
    }
    old = _plan([_day(1, "A_1", [_exercise("Hammer Curl", 1, rir=1)])])
    new = _plan([_day(1, "A_1", [_exercise("Hammer Curl", 1, sets=4, rir=3), walk])])
    diff = plan_services.diff_plans(old, new)
    assert (diff.summary.weekly_hard_sets.old, diff.summary.weekly_hard_sets.new) == (3, 4)
    assert (diff.summary.mean_target_rir.old, diff.summary.mean_target_rir.new) == (1, 3)
    assert resolve_exercise("Brisk Walk") is not None
    (day,) = diff.days_changed
    assert [e.exercise_name for e in day.exercises_added] == ["Brisk Walk"]
    (curl,) = day.exercises_changed
    assert [s.set_number for s in curl.sets_added] == [4]
    assert [c.set_number for c in curl.sets_changed] == [1, 2, 3]
    assert all(c.target_reps is None and c.rest_seconds is None for c in curl.sets_changed)


# --- the OpenAPI document ------------------------------------------------------------------------------


async def test_openapi_documents_the_plan_endpoints(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    ids = {
        op["operationId"]: (path, method)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    assert ids["getCurrentPlan"] == ("/plans/current", "get")
    assert ids["listPlanVersions"] == ("/plans", "get")
    assert ids["getPlanVersion"] == ("/plans/{plan_id}", "get")
    assert ids["diffPlanVersions"] == ("/plans/{plan_id}/diff", "get")
    assert ids["activatePlanVersion"] == ("/plans/{plan_id}/activate", "post")
    assert ids["createManualPlan"] == ("/plans", "post")
    body = schema["paths"]["/plans"]["post"]["requestBody"]["content"]["application/json"]
    plan = body["schema"]
    assert plan["type"] == "object" and plan["additionalProperties"] is False
    assert plan["required"] == ["plan_name", "days"]
    day = plan["properties"]["days"]["items"]
    exercise = day["properties"]["exercises"]["items"]
    sets = exercise["properties"]["sets"]
    assert sets["items"]["properties"]["target_reps"]["maximum"] == 30
    assert "$ref" not in str(plan)
    for op in ("getCurrentPlan", "createManualPlan", "activatePlanVersion"):
        path, method = ids[op]
        assert schema["paths"][path][method]["security"] == [{"BearerToken": []}]

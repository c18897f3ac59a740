"""Plan versions: all SQL of the plans context, and the diff between two versions.

Every change makes a new version; history is never rewritten. ``insert_plan_version``
and ``load_plan`` are the building blocks the AI endpoints reuse: whatever wrote a plan
(a person, the rules engine, a model), it is validated by the plan contract first and
stored the same way here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

import anyio.to_thread
import asyncpg
import msgspec

from fitsense_api.errors import Conflict, NotFound, Unprocessable
from fitsense_api.plans.schemas import (
    DayChange,
    DiffSummary,
    ExerciseChange,
    FloatChange,
    IntChange,
    PlanContentDiff,
    PlanDayOut,
    PlanDiffOut,
    PlanExerciseOut,
    PlanHistoryPage,
    PlanSetOut,
    PlanVersionOut,
    SetChange,
    TextChange,
)
from fitsense_api.profile.services import require_profile
from fitsense_core.plan_contract import (
    Plan,
    PlanDay,
    PlanExercise,
    PlanSet,
    normalize_name,
    resolve_exercise,
    validate_plan,
)
from fitsense_core.plan_metrics import mean_target_rir, weekly_hard_sets

MANUAL = "manual"
# Violations listed in one answer: a body of thousands of broken sets stays a small answer.
MAX_REPORTED = 200

# Serializes version numbering and the one-active-plan switch per user (held until the
# transaction ends). The key is namespaced so it cannot meet another context's lock.
LOCK_USER_PLANS = """
SELECT pg_advisory_xact_lock(hashtextextended('fitsense.workout_plans:' || $1::uuid::text, 0))
"""

DEACTIVATE_PLANS = """
UPDATE workout_plans SET is_active = false WHERE user_id = $1 AND is_active
"""

# The whole plan in one statement: the version row, then days, exercises and sets from
# parallel arrays, joined back through (day_order) and (day_order, position), which are
# unique within a plan. Foreign keys are checked at the end of the statement, so the
# children may reference rows inserted by the same statement. No row comes back when
# the parent version is not one of the user's plans.
INSERT_PLAN = """
WITH plan AS (
    INSERT INTO workout_plans (user_id, name, version, parent_plan_id, source, model_version,
                               is_active)
    SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6
    FROM workout_plans WHERE user_id = $1
    HAVING $3::uuid IS NULL OR coalesce(bool_or(id = $3), false)
    RETURNING id
), days AS (
    INSERT INTO plan_days (plan_id, name, day_order, notes)
    SELECT plan.id, d.name, d.day_order, d.notes
    FROM plan, unnest($7::text[], $8::int2[], $9::text[]) AS d(name, day_order, notes)
    RETURNING id, day_order
), plan_exercise AS (
    INSERT INTO plan_exercises (plan_day_id, exercise_id, position, notes)
    SELECT days.id, e.exercise_id, e.position, e.notes
    FROM unnest($10::int2[], $11::uuid[], $12::int2[], $13::text[])
         AS e(day_order, exercise_id, position, notes)
    JOIN days ON days.day_order = e.day_order
    RETURNING id, plan_day_id, position
), plan_set AS (
    INSERT INTO plan_sets (plan_exercise_id, set_number, target_reps, target_rir, rest_seconds)
    SELECT pe.id, s.set_number, s.target_reps, s.target_rir, s.rest_seconds
    FROM unnest($14::int2[], $15::int2[], $16::int2[], $17::int2[], $18::int2[], $19::int2[])
         AS s(day_order, position, set_number, target_reps, target_rir, rest_seconds)
    JOIN days ON days.day_order = s.day_order
    JOIN plan_exercise pe ON pe.plan_day_id = days.id AND pe.position = s.position
)
SELECT id FROM plan
"""

# One version as the whole nested document, built in SQL. With $2 null: the active one.
LOAD_PLAN = """
SELECT json_build_object(
    'id', wp.id,
    'version', wp.version,
    'name', wp.name,
    'source', wp.source,
    'model_version', wp.model_version,
    'parent_plan_id', wp.parent_plan_id,
    'is_active', wp.is_active,
    'created_at', wp.created_at,
    'plan', json_build_object('plan_name', wp.name, 'days', coalesce(d.days, '[]'::json))
)::text
FROM workout_plans wp
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object(
               'name', pd.name,
               'day_order', pd.day_order,
               'notes', pd.notes,
               'exercises', coalesce(x.exercises, '[]'::json))
           ORDER BY pd.day_order) AS days
    FROM plan_days pd
    LEFT JOIN LATERAL (
        SELECT json_agg(json_build_object(
                   'exercise_name', e.name,
                   'position', pe.position,
                   'notes', pe.notes,
                   'sets', coalesce(s.sets, '[]'::json))
               ORDER BY pe.position) AS exercises
        FROM plan_exercises pe
        JOIN exercises e ON e.id = pe.exercise_id
        LEFT JOIN LATERAL (
            SELECT json_agg(json_build_object(
                       'set_number', ps.set_number,
                       'target_reps', ps.target_reps,
                       'target_rir', ps.target_rir,
                       'rest_seconds', ps.rest_seconds)
                   ORDER BY ps.set_number) AS sets
            FROM plan_sets ps WHERE ps.plan_exercise_id = pe.id
        ) s ON true
        WHERE pe.plan_day_id = pd.id
    ) x ON true
    WHERE pd.plan_id = wp.id
) d ON true
WHERE wp.user_id = $1 AND (wp.id = $2 OR ($2::uuid IS NULL AND wp.is_active))
"""

# Newest first, metadata and day counts only; always one row, so `total` is known even
# past the last page.
LIST_PLANS = """
SELECT json_build_object(
    'total', (SELECT count(*) FROM workout_plans WHERE user_id = $1),
    'limit', $2::int,
    'offset', $3::int,
    'items', coalesce((
        SELECT json_agg(json_build_object(
                   'id', p.id,
                   'version', p.version,
                   'name', p.name,
                   'source', p.source,
                   'model_version', p.model_version,
                   'parent_plan_id', p.parent_plan_id,
                   'is_active', p.is_active,
                   'created_at', p.created_at,
                   'training_days', c.training_days,
                   'days', c.days)
               ORDER BY p.version DESC)
        FROM (SELECT * FROM workout_plans WHERE user_id = $1
              ORDER BY version DESC LIMIT $2 OFFSET $3) p
        CROSS JOIN LATERAL (
            SELECT count(*) AS days,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM plan_exercises pe WHERE pe.plan_day_id = pd.id))
                       AS training_days
            FROM plan_days pd WHERE pd.plan_id = p.id
        ) c
    ), '[]'::json)
)::text
"""


# --- storing and loading versions ---------------------------------------------------------


async def lock_user_plans(conn: asyncpg.Connection, user_id: UUID) -> None:
    """Serialize plan writes of one user until the surrounding transaction ends."""
    await conn.execute(LOCK_USER_PLANS, user_id)


def _insert_arrays(plan: Plan) -> list[list[Any]]:
    days: list[list[Any]] = [[], [], []]
    exercises: list[list[Any]] = [[], [], [], []]
    sets: list[list[Any]] = [[], [], [], [], [], []]
    for d, day in enumerate(plan.days):
        days[0].append(day.name)
        days[1].append(day.day_order)
        days[2].append(day.notes)
        for e, ex in enumerate(day.exercises):
            exercise = resolve_exercise(ex.exercise_name)
            if exercise is None:
                raise Unprocessable.field(
                    f"days[{d}].exercises[{e}].exercise_name",
                    f"{ex.exercise_name!r} is not in the exercise catalog",
                )
            exercises[0].append(day.day_order)
            exercises[1].append(UUID(exercise.id))
            exercises[2].append(ex.position)
            exercises[3].append(ex.notes)
            for s in ex.sets:
                for column, value in zip(
                    sets,
                    (
                        day.day_order,
                        ex.position,
                        s.set_number,
                        s.target_reps,
                        s.target_rir,
                        s.rest_seconds,
                    ),
                    strict=True,
                ):
                    column.append(value)
    return days + exercises + sets


async def insert_plan_version(
    conn: asyncpg.Connection,
    user_id: UUID,
    plan: Plan,
    *,
    source: str,
    model_version: str | None,
    parent_plan_id: UUID | None,
    activate: bool = True,
) -> UUID:
    """Store ``plan`` (already validated by the contract) as the user's next version.

    In one transaction: lock the user's plans, deactivate the current active version (when
    ``activate``), insert the version with its days, exercises and sets. Returns its id.
    """
    arrays = _insert_arrays(plan)
    async with conn.transaction():
        await lock_user_plans(conn, user_id)
        if activate:
            await conn.execute(DEACTIVATE_PLANS, user_id)
        plan_id = await conn.fetchval(
            INSERT_PLAN,
            user_id,
            plan.plan_name,
            parent_plan_id,
            source,
            model_version,
            activate,
            *arrays,
        )
        if plan_id is None:
            raise NotFound(f"no plan {parent_plan_id} to derive a version from")
    return plan_id


async def find_plan(
    conn: asyncpg.Connection, user_id: UUID, plan_id: UUID | None
) -> PlanVersionOut | None:
    """One of the user's versions in full (the active one when ``plan_id`` is None)."""
    text = await conn.fetchval(LOAD_PLAN, user_id, plan_id)
    return None if text is None else msgspec.json.decode(text, type=PlanVersionOut)


async def load_plan(conn: asyncpg.Connection, user_id: UUID, plan_id: UUID) -> PlanVersionOut:
    """One of the user's versions in full; 404 for a missing id or another user's."""
    version = await find_plan(conn, user_id, plan_id)
    if version is None:
        raise NotFound(f"no plan {plan_id}")
    return version


async def load_active_plan(conn: asyncpg.Connection, user_id: UUID) -> PlanVersionOut:
    version = await find_plan(conn, user_id, None)
    if version is None:
        raise NotFound("no active plan yet: create one with POST /plans")
    return version


async def list_plans(
    conn: asyncpg.Connection, user_id: UUID, limit: int, offset: int
) -> PlanHistoryPage:
    text = await conn.fetchval(LIST_PLANS, user_id, limit, offset)
    return msgspec.json.decode(text, type=PlanHistoryPage)


def to_contract(version: PlanVersionOut) -> Plan:
    """A stored version's content as a contract plan (what the coach and the diff use)."""
    return Plan.model_validate(msgspec.to_builtins(version.plan))


def canonical(plan: Plan) -> Plan:
    """The plan as it reads back from storage: catalog names, days, exercises and sets in
    order. Two plans with the same canonical form are the same plan."""
    days = []
    for day in sorted(plan.days, key=lambda d: d.day_order):
        exercises = []
        for ex in sorted(day.exercises, key=lambda e: e.position):
            exercise = resolve_exercise(ex.exercise_name)
            exercises.append(
                PlanExercise(
                    exercise_name=exercise.name if exercise else ex.exercise_name,
                    position=ex.position,
                    notes=ex.notes,
                    sets=sorted(ex.sets, key=lambda s: s.set_number),
                )
            )
        days.append(
            PlanDay(name=day.name, day_order=day.day_order, notes=day.notes, exercises=exercises)
        )
    return Plan(plan_name=plan.plan_name, days=days)


# --- use cases of the endpoints --------------------------------------------------------------


async def create_manual_plan(
    conn: asyncpg.Connection, user_id: UUID, data: dict[str, Any]
) -> PlanVersionOut:
    """A plan the person wrote: checked against the contract and against them, then stored
    as the new active version (its parent is the version it replaces)."""
    profile = await require_profile(
        conn,
        user_id,
        "a plan is checked against your goals, days per week, equipment, conditions and injuries",
    )
    # CPU work (pydantic, the catalog's close-name suggestions): off the event loop, so
    # other requests are answered meanwhile.
    result = await anyio.to_thread.run_sync(validate_plan, data, profile.athlete())
    if result.violations or result.plan is None:
        errors = [{"field": v.path, "message": v.reason, "code": v.code} for v in result.violations]
        first = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        listed = "" if len(errors) <= MAX_REPORTED else f" (the first {MAX_REPORTED} are listed)"
        raise Unprocessable(
            f"the plan breaks {len(errors)} rule(s) of the plan contract{listed}: {first}",
            errors[:MAX_REPORTED],
        )
    plan = canonical(result.plan)
    async with conn.transaction():
        await lock_user_plans(conn, user_id)
        active = await find_plan(conn, user_id, None)
        if active is not None and canonical(to_contract(active)) == plan:
            raise Conflict(
                f"this plan is identical to the active version {active.version}; "
                "nothing was stored",
                [{"field": "body", "message": f"same content as plan {active.id}"}],
            )
        plan_id = await insert_plan_version(
            conn,
            user_id,
            plan,
            source=MANUAL,
            model_version=None,
            parent_plan_id=active.id if active else None,
        )
        return await load_plan(conn, user_id, plan_id)


async def activate_version(
    conn: asyncpg.Connection, user_id: UUID, plan_id: UUID
) -> PlanVersionOut:
    """Go back to an older version by copying it into a new active version (same content,
    source and model version; its parent is the version activated): history is kept."""
    async with conn.transaction():
        await lock_user_plans(conn, user_id)
        old = await load_plan(conn, user_id, plan_id)
        if old.is_active:
            raise Conflict(
                f"plan {plan_id} (version {old.version}) is already the active version",
                [{"field": "plan_id", "message": "already active"}],
            )
        active = await find_plan(conn, user_id, None)
        content = to_contract(old)
        if active is not None and to_contract(active) == content:
            # A repeated request (or the version that was already copied): nothing to do.
            raise Conflict(
                f"the content of version {old.version} is already the active plan "
                f"(version {active.version})",
                [{"field": "plan_id", "message": f"same content as the active plan {active.id}"}],
            )
        new_id = await insert_plan_version(
            conn,
            user_id,
            content,
            source=old.source,
            model_version=old.model_version,
            parent_plan_id=old.id,
        )
        return await load_plan(conn, user_id, new_id)


async def diff_versions(
    conn: asyncpg.Connection, user_id: UUID, plan_id: UUID, against: UUID
) -> PlanDiffOut:
    """The change from version ``against`` (old) to ``plan_id`` (new); both the caller's."""
    new = await load_plan(conn, user_id, plan_id)
    old = await load_plan(conn, user_id, against)
    diff = diff_plans(to_contract(old), to_contract(new))
    return PlanDiffOut(
        from_plan_id=old.id,
        from_version=old.version,
        to_plan_id=new.id,
        to_version=new.version,
        identical=diff.identical,
        plan_name=diff.plan_name,
        days_added=diff.days_added,
        days_removed=diff.days_removed,
        days_changed=diff.days_changed,
        summary=diff.summary,
    )


# --- the diff (pure) ---------------------------------------------------------------------------


def _set_out(s: PlanSet) -> PlanSetOut:
    return PlanSetOut(s.set_number, s.target_reps, s.target_rir, s.rest_seconds)


def _exercise_out(ex: PlanExercise) -> PlanExerciseOut:
    return PlanExerciseOut(
        ex.exercise_name,
        ex.position,
        ex.notes,
        [_set_out(s) for s in sorted(ex.sets, key=lambda s: s.set_number)],
    )


def _day_out(day: PlanDay) -> PlanDayOut:
    return PlanDayOut(
        day.name,
        day.day_order,
        day.notes,
        [_exercise_out(e) for e in sorted(day.exercises, key=lambda e: e.position)],
    )


def _text_change(old: str | None, new: str | None) -> TextChange | None:
    return None if old == new else TextChange(old, new)


def _int_change(old: int | None, new: int | None) -> IntChange | None:
    return None if old == new else IntChange(old, new)


def _exercise_key(name: str) -> str:
    exercise = resolve_exercise(name)
    return exercise.id if exercise else normalize_name(name)


def _keyed_exercises(day: PlanDay) -> dict[tuple[str, int], PlanExercise]:
    """Exercises by (catalog identity, occurrence): the n-th occurrence of an exercise in
    one version's day is matched with the n-th in the other's."""
    seen: dict[str, int] = defaultdict(int)
    out = {}
    for ex in sorted(day.exercises, key=lambda e: e.position):
        key = _exercise_key(ex.exercise_name)
        out[(key, seen[key])] = ex
        seen[key] += 1
    return out


def _diff_exercise(old: PlanExercise, new: PlanExercise) -> ExerciseChange | None:
    old_sets = {s.set_number: s for s in old.sets}
    new_sets = {s.set_number: s for s in new.sets}
    changed = []
    for number in sorted(old_sets.keys() & new_sets.keys()):
        a, b = old_sets[number], new_sets[number]
        change = SetChange(
            set_number=number,
            target_reps=_int_change(a.target_reps, b.target_reps),
            target_rir=_int_change(a.target_rir, b.target_rir),
            rest_seconds=_int_change(a.rest_seconds, b.rest_seconds),
        )
        if change.target_reps or change.target_rir or change.rest_seconds:
            changed.append(change)
    result = ExerciseChange(
        exercise_name=new.exercise_name,
        position=_int_change(old.position, new.position),
        notes=_text_change(old.notes, new.notes),
        sets_added=[_set_out(new_sets[n]) for n in sorted(new_sets.keys() - old_sets.keys())],
        sets_removed=[_set_out(old_sets[n]) for n in sorted(old_sets.keys() - new_sets.keys())],
        sets_changed=changed,
    )
    unchanged = not (
        result.position
        or result.notes
        or result.sets_added
        or result.sets_removed
        or result.sets_changed
    )
    return None if unchanged else result


def _diff_day(old: PlanDay, new: PlanDay) -> DayChange | None:
    old_ex, new_ex = _keyed_exercises(old), _keyed_exercises(new)
    changed = [
        change
        for key in sorted(old_ex.keys() & new_ex.keys(), key=lambda k: new_ex[k].position)
        if (change := _diff_exercise(old_ex[key], new_ex[key])) is not None
    ]
    result = DayChange(
        day_order=new.day_order,
        name=_text_change(old.name, new.name),
        notes=_text_change(old.notes, new.notes),
        exercises_added=[
            _exercise_out(new_ex[k])
            for k in sorted(new_ex.keys() - old_ex.keys(), key=lambda k: new_ex[k].position)
        ],
        exercises_removed=[
            _exercise_out(old_ex[k])
            for k in sorted(old_ex.keys() - new_ex.keys(), key=lambda k: old_ex[k].position)
        ],
        exercises_changed=changed,
    )
    unchanged = not (
        result.name
        or result.notes
        or result.exercises_added
        or result.exercises_removed
        or result.exercises_changed
    )
    return None if unchanged else result


def diff_plans(old: Plan, new: Plan) -> PlanContentDiff:
    """A structured diff from ``old`` to ``new``.

    Days are matched by day_order, exercises within a day by catalog exercise, sets by
    set_number; the summary compares the weekly numbers ``plan_metrics`` defines.
    """
    old_days = {d.day_order: d for d in old.days}
    new_days = {d.day_order: d for d in new.days}
    days_changed = [
        change
        for order in sorted(old_days.keys() & new_days.keys())
        if (change := _diff_day(old_days[order], new_days[order])) is not None
    ]
    days_added = [_day_out(new_days[o]) for o in sorted(new_days.keys() - old_days.keys())]
    days_removed = [_day_out(old_days[o]) for o in sorted(old_days.keys() - new_days.keys())]
    plan_name = _text_change(old.plan_name, new.plan_name)
    summary = DiffSummary(
        training_days=IntChange(len(old.training_days()), len(new.training_days())),
        weekly_hard_sets=IntChange(weekly_hard_sets(old), weekly_hard_sets(new)),
        mean_target_rir=FloatChange(mean_target_rir(old), mean_target_rir(new)),
    )
    return PlanContentDiff(
        identical=not (plan_name or days_added or days_removed or days_changed),
        plan_name=plan_name,
        days_added=days_added,
        days_removed=days_removed,
        days_changed=days_changed,
        summary=summary,
    )

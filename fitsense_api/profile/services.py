"""Profile, preferences, goals, conditions, medical history, medications and allergies:
all SQL of the profile context. Each section is replaced as a whole; the onboarding
document replaces every section in one transaction."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from fitsense_api.errors import Conflict, Unprocessable
from fitsense_api.profile.schemas import (
    MAX_CONDITIONS,
    MAX_GOALS,
    MAX_ITEMS,
    Allergy,
    MedicalEvent,
    Medication,
    OnboardingIn,
    OnboardingOut,
    Preferences,
    Profile,
    UserCondition,
)
from fitsense_core.profile import Injury, UserProfile
from fitsense_core.reference import (
    CONDITIONS_BY_CODE,
    EQUIPMENT_BY_CODE,
    GOALS_BY_CODE,
    blocked_tags,
)


def _at(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix else field


def _check_codes(values: list[str], known: dict, field: str, what: str) -> None:
    errors, seen = [], set()
    for i, value in enumerate(values):
        if value not in known:
            errors.append({"field": f"{field}[{i}]", "message": f"unknown {what} {value!r}"})
        elif value in seen:
            errors.append({"field": f"{field}[{i}]", "message": f"{what} {value!r} is repeated"})
        seen.add(value)
    if errors:
        raise Unprocessable(f"{field}: " + "; ".join(e["message"] for e in errors), errors)


def _check_unique(values: list[str], field: str, what: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        key = value.strip().lower()
        if key in seen:
            raise Unprocessable.field(f"{field}[{i}]", f"{what} {value!r} is repeated")
        seen.add(key)


def _check_count(values: list, field: str, low: int, high: int) -> None:
    # Enforced here as well as in the schema: a bare JSON array body carries no constraints.
    if not low <= len(values) <= high:
        raise Unprocessable.field(field, f"needs {low} to {high} entries, got {len(values)}")


def _check_birth_date(value: date, field: str) -> None:
    if not date(1900, 1, 1) <= value <= date.today():
        raise Unprocessable.field(field, "must be between 1900-01-01 and today")


# --- reads -------------------------------------------------------------------------


async def get_profile(conn: asyncpg.Connection, user_id: UUID) -> Profile | None:
    row = await conn.fetchrow(
        "SELECT date_of_birth, sex, height_cm::float8 AS height_cm, activity_level "
        "FROM user_profiles WHERE user_id = $1",
        user_id,
    )
    return Profile(**dict(row)) if row else None


async def get_preferences(conn: asyncpg.Connection, user_id: UUID) -> Preferences | None:
    row = await conn.fetchrow(
        "SELECT p.days_per_week, p.experience, p.session_length_min, "
        "coalesce(array_agg(e.code ORDER BY e.code) FILTER (WHERE e.code IS NOT NULL), "
        "'{}') AS equipment "
        "FROM user_preferences p "
        "LEFT JOIN user_equipment ue ON ue.user_id = p.user_id "
        "LEFT JOIN equipment e ON e.id = ue.equipment_id "
        "WHERE p.user_id = $1 GROUP BY p.user_id",
        user_id,
    )
    if row is None:
        return None
    return Preferences(
        days_per_week=row["days_per_week"],
        experience=row["experience"],
        session_length_min=row["session_length_min"],
        equipment=list(row["equipment"]),
    )


async def get_goals(conn: asyncpg.Connection, user_id: UUID) -> list[str]:
    rows = await conn.fetch(
        "SELECT g.code FROM user_goals ug JOIN goals g ON g.id = ug.goal_id "
        "WHERE ug.user_id = $1 ORDER BY ug.priority",
        user_id,
    )
    return [r["code"] for r in rows]


async def get_conditions(conn: asyncpg.Connection, user_id: UUID) -> list[UserCondition]:
    rows = await conn.fetch(
        "SELECT c.code, uc.severity, uc.diagnosed_on, uc.notes FROM user_conditions uc "
        "JOIN conditions c ON c.id = uc.condition_id WHERE uc.user_id = $1 ORDER BY c.code",
        user_id,
    )
    return [UserCondition(**dict(r)) for r in rows]


async def get_medical_history(conn: asyncpg.Connection, user_id: UUID) -> list[MedicalEvent]:
    rows = await conn.fetch(
        "SELECT kind, body_region, status, description, occurred_on "
        "FROM user_medical_profiles WHERE user_id = $1 "
        "ORDER BY occurred_on NULLS LAST, body_region, id",
        user_id,
    )
    return [MedicalEvent(**dict(r)) for r in rows]


async def get_medications(conn: asyncpg.Connection, user_id: UUID) -> list[Medication]:
    rows = await conn.fetch(
        "SELECT name, dosage, notes FROM user_medications WHERE user_id = $1 ORDER BY name",
        user_id,
    )
    return [Medication(**dict(r)) for r in rows]


async def get_allergies(conn: asyncpg.Connection, user_id: UUID) -> list[Allergy]:
    rows = await conn.fetch(
        "SELECT allergen, severity FROM user_allergies WHERE user_id = $1 ORDER BY allergen",
        user_id,
    )
    return [Allergy(**dict(r)) for r in rows]


async def get_onboarding(conn: asyncpg.Connection, user_id: UUID) -> OnboardingOut:
    profile = await get_profile(conn, user_id)
    preferences = await get_preferences(conn, user_id)
    goals = await get_goals(conn, user_id)
    return OnboardingOut(
        complete=profile is not None and preferences is not None and bool(goals),
        profile=profile,
        preferences=preferences,
        goals=goals,
        conditions=await get_conditions(conn, user_id),
        medical_history=await get_medical_history(conn, user_id),
        medications=await get_medications(conn, user_id),
        allergies=await get_allergies(conn, user_id),
    )


# --- writes (each replaces its section) ---------------------------------------------


async def put_profile(
    conn: asyncpg.Connection, user_id: UUID, profile: Profile, prefix: str = ""
) -> Profile:
    _check_birth_date(profile.date_of_birth, _at(prefix, "date_of_birth"))
    await conn.execute(
        "INSERT INTO user_profiles (user_id, date_of_birth, sex, height_cm, activity_level) "
        "VALUES ($1, $2, $3, round($4::float8::numeric, 1), $5) "
        "ON CONFLICT (user_id) DO UPDATE SET date_of_birth = EXCLUDED.date_of_birth, "
        "sex = EXCLUDED.sex, height_cm = EXCLUDED.height_cm, "
        "activity_level = EXCLUDED.activity_level, updated_at = now()",
        user_id,
        profile.date_of_birth,
        profile.sex,
        profile.height_cm,
        profile.activity_level,
    )
    return await get_profile(conn, user_id)


async def put_preferences(
    conn: asyncpg.Connection, user_id: UUID, preferences: Preferences, prefix: str = ""
) -> Preferences:
    _check_codes(preferences.equipment, EQUIPMENT_BY_CODE, _at(prefix, "equipment"), "equipment")
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO user_preferences (user_id, days_per_week, experience, "
            "session_length_min) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (user_id) DO UPDATE SET days_per_week = EXCLUDED.days_per_week, "
            "experience = EXCLUDED.experience, "
            "session_length_min = EXCLUDED.session_length_min, updated_at = now()",
            user_id,
            preferences.days_per_week,
            preferences.experience,
            preferences.session_length_min,
        )
        await conn.execute("DELETE FROM user_equipment WHERE user_id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_equipment (user_id, equipment_id) "
            "SELECT $1, id FROM equipment WHERE code = ANY($2::text[])",
            user_id,
            preferences.equipment,
        )
    return await get_preferences(conn, user_id)


async def put_goals(
    conn: asyncpg.Connection, user_id: UUID, goals: list[str], prefix: str = ""
) -> list[str]:
    _check_count(goals, _at(prefix, "goals"), 1, MAX_GOALS)
    _check_codes(goals, GOALS_BY_CODE, _at(prefix, "goals"), "goal")
    async with conn.transaction():
        await conn.execute("DELETE FROM user_goals WHERE user_id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_goals (user_id, goal_id, priority) "
            "SELECT $1, g.id, c.priority FROM unnest($2::text[]) WITH ORDINALITY "
            "AS c(code, priority) JOIN goals g ON g.code = c.code",
            user_id,
            goals,
        )
    return await get_goals(conn, user_id)


async def put_conditions(
    conn: asyncpg.Connection, user_id: UUID, conditions: list[UserCondition], prefix: str = ""
) -> list[UserCondition]:
    field = _at(prefix, "conditions")
    _check_count(conditions, field, 0, MAX_CONDITIONS)
    _check_codes([c.code for c in conditions], CONDITIONS_BY_CODE, field, "condition")
    for i, c in enumerate(conditions):
        if c.diagnosed_on and c.diagnosed_on > date.today():
            raise Unprocessable.field(f"{field}[{i}].diagnosed_on", "is in the future")
    async with conn.transaction():
        await conn.execute("DELETE FROM user_conditions WHERE user_id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_conditions (user_id, condition_id, severity, diagnosed_on, notes) "
            "SELECT $1, c.id, x.severity, x.diagnosed_on, x.notes "
            "FROM unnest($2::text[], $3::text[], $4::date[], $5::text[]) "
            "AS x(code, severity, diagnosed_on, notes) JOIN conditions c ON c.code = x.code",
            user_id,
            [c.code for c in conditions],
            [c.severity for c in conditions],
            [c.diagnosed_on for c in conditions],
            [c.notes for c in conditions],
        )
    return await get_conditions(conn, user_id)


async def put_medical_history(
    conn: asyncpg.Connection, user_id: UUID, events: list[MedicalEvent], prefix: str = ""
) -> list[MedicalEvent]:
    field = _at(prefix, "medical_history")
    _check_count(events, field, 0, MAX_ITEMS)
    for i, e in enumerate(events):
        if e.occurred_on and e.occurred_on > date.today():
            raise Unprocessable.field(f"{field}[{i}].occurred_on", "is in the future")
        if not e.description.strip():
            raise Unprocessable.field(f"{field}[{i}].description", "must not be blank")
    async with conn.transaction():
        await conn.execute("DELETE FROM user_medical_profiles WHERE user_id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_medical_profiles (user_id, kind, body_region, status, "
            "description, occurred_on) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::date[])",
            user_id,
            [e.kind for e in events],
            [e.body_region for e in events],
            [e.status for e in events],
            [e.description.strip() for e in events],
            [e.occurred_on for e in events],
        )
    return await get_medical_history(conn, user_id)


async def put_medications(
    conn: asyncpg.Connection, user_id: UUID, medications: list[Medication], prefix: str = ""
) -> list[Medication]:
    field = _at(prefix, "medications")
    _check_count(medications, field, 0, MAX_ITEMS)
    for i, m in enumerate(medications):
        if not m.name.strip():
            raise Unprocessable.field(f"{field}[{i}].name", "must not be blank")
    _check_unique([m.name for m in medications], field, "medication")
    async with conn.transaction():
        await conn.execute("DELETE FROM user_medications WHERE user_id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_medications (user_id, name, dosage, notes) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])",
            user_id,
            [m.name.strip() for m in medications],
            [m.dosage for m in medications],
            [m.notes for m in medications],
        )
    return await get_medications(conn, user_id)


async def put_allergies(
    conn: asyncpg.Connection, user_id: UUID, allergies: list[Allergy], prefix: str = ""
) -> list[Allergy]:
    field = _at(prefix, "allergies")
    _check_count(allergies, field, 0, MAX_ITEMS)
    for i, a in enumerate(allergies):
        if not a.allergen.strip():
            raise Unprocessable.field(f"{field}[{i}].allergen", "must not be blank")
    _check_unique([a.allergen for a in allergies], field, "allergen")
    async with conn.transaction():
        await conn.execute("DELETE FROM user_allergies WHERE user_id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_allergies (user_id, allergen, severity) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[])",
            user_id,
            [a.allergen.strip() for a in allergies],
            [a.severity for a in allergies],
        )
    return await get_allergies(conn, user_id)


async def put_onboarding(
    conn: asyncpg.Connection, user_id: UUID, doc: OnboardingIn
) -> OnboardingOut:
    async with conn.transaction():
        await put_profile(conn, user_id, doc.profile, "profile")
        await put_preferences(conn, user_id, doc.preferences, "preferences")
        await put_goals(conn, user_id, doc.goals)
        await put_conditions(conn, user_id, doc.conditions)
        await put_medical_history(conn, user_id, doc.medical_history)
        await put_medications(conn, user_id, doc.medications)
        await put_allergies(conn, user_id, doc.allergies)
    return await get_onboarding(conn, user_id)


# --- what the rest of the API needs to know about a person ----------------------------


async def user_blocked_tags(conn: asyncpg.Connection, user_id: UUID) -> frozenset[str]:
    """Contraindication tags from the person's conditions and unresolved injuries."""
    row = await conn.fetchrow(
        "SELECT "
        "(SELECT coalesce(array_agg(c.code), '{}') FROM user_conditions uc "
        " JOIN conditions c ON c.id = uc.condition_id WHERE uc.user_id = $1) AS conditions, "
        "(SELECT coalesce(array_agg(DISTINCT body_region), '{}') FROM user_medical_profiles "
        " WHERE user_id = $1 AND status <> 'resolved') AS regions",
        user_id,
    )
    return blocked_tags(list(row["conditions"]), list(row["regions"]))


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


async def load_user_profile(conn: asyncpg.Connection, user_id: UUID) -> UserProfile | None:
    """The person as the coach and the plan contract see them; None until onboarded."""
    doc = await get_onboarding(conn, user_id)
    if not doc.complete:
        return None
    assert doc.profile is not None and doc.preferences is not None
    weight = await conn.fetchval(
        "SELECT weight_kg::float8 FROM body_metrics WHERE user_id = $1 AND weight_kg IS NOT NULL "
        "ORDER BY log_date DESC LIMIT 1",
        user_id,
    )
    return UserProfile(
        user_id=str(user_id),
        age=_age(doc.profile.date_of_birth, date.today()),
        sex=doc.profile.sex,
        height_cm=doc.profile.height_cm,
        activity_level=doc.profile.activity_level,
        goals=tuple(doc.goals),
        experience=doc.preferences.experience,
        days_per_week=doc.preferences.days_per_week,
        session_length_min=doc.preferences.session_length_min,
        equipment=frozenset(doc.preferences.equipment),
        conditions=tuple((c.code, c.severity) for c in doc.conditions),
        injuries=tuple(
            Injury(e.kind, e.body_region, e.status, e.description) for e in doc.medical_history
        ),
        medications=tuple(m.name for m in doc.medications),
        allergies=tuple(a.allergen for a in doc.allergies),
        weight_kg=weight,
    )


async def require_profile(conn: asyncpg.Connection, user_id: UUID, needed_for: str) -> UserProfile:
    """The person's profile, or 409 naming onboarding (``needed_for`` says why it is needed)."""
    profile = await load_user_profile(conn, user_id)
    if profile is None:
        raise Conflict(
            f"complete onboarding first: {needed_for} (PUT /onboarding)",
            [{"field": "onboarding", "message": "onboarding is not complete"}],
        )
    return profile

"""Real coaching requests for the next distillation dataset: only with consent, anonymized.

What is read: AI interactions the model answered (outcome ``ok``) of people whose training
consent is on *when the dataset is built* — withdrawing consent keeps a person out of every
later dataset — and that were made *while* their consent was on (``consent_events``, the
history of every change: an answer from before opting in, or from a spell of opting out,
never reaches training), with their feedback given while consent was on (on the
interaction itself, or on the plan version its job produced). What leaves the database:

- a pseudonymous key per person, HMAC-SHA256 of the user id under a salt chosen per
  pipeline run (keys cannot be linked across runs, nor turned back into ids);
- the person's split (train, val or test), HMAC-SHA256 of the user id under the
  deployment's stable key (``data_split_key``, made by a migration, never leaving the
  database): a real person is in one split for good, whatever the run's salt;
- the request and feedback comments with emails, phone numbers, URLs and the account's
  own name replaced by placeholders;
- the profile reduced to what prompts use: an age standing for the age band, sex, height
  to 5 cm, activity level, goals, experience, days and session length, equipment,
  condition codes and injury regions (no descriptions, medications, allergies, weight or
  recent signals).

The requests become ordinary :class:`~fitsense_core.prompts.Prompt` objects, so the
teacher answers them like synthetic ones (a thumbs-down answer is still a good request to
answer again). Their ``context_json`` carries an ``origin`` entry (source, context type,
feedback) that the QA and dataset stages can count; their user ids start with
``consented-``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from fitsense_core.coach.plans import detect_intents
from fitsense_core.coach.topics import classify_topic
from fitsense_core.coaching_context import LAST_SESSIONS_SQL, for_psycopg, sessions_from_rows
from fitsense_core.database import connect
from fitsense_core.plan_contract import Plan
from fitsense_core.profile import Injury, LoggedSession, UserProfile
from fitsense_core.prompts import (
    SYSTEM_COACH,
    SYSTEM_PLAN,
    Prompt,
    context_to_json,
    one_line,
    render_plan,
    render_profile,
    render_sessions,
    slice_tags,
)
from fitsense_core.request_space import split_of_hex
from fitsense_core.safety import Triage, triage

PSEUDONYM_PREFIX = "consented-"
SOURCE = "consented"
# Each audited request (by its context type) is asked again as the prompt type it was served as.
PROMPT_TYPES = {
    "plan_generate": "plan_creation",
    "plan_update": "plan_update",
    "plan_adapt": "plan_update",
    "coach": "coaching",
}
# An age inside each band stands for the person's age (the band, not the age, leaves).
BAND_AGES = {"under_18": 16, "18_29": 24, "30_44": 37, "45_59": 52, "60_plus": 67}
UPDATE_TOPICS = ("too_easy", "poor_recovery", "less_time")
DEFAULT_LIMIT = 10_000

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
URL = re.compile(
    r"\b(?:https?://|www\.)\S+"
    r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|net|org|io|dev|app|co|me|info|biz|ly|"
    r"[a-z]{2})/\S*",
    re.I,
)
# A run of digits and phone separators; it is a phone number when it has 7-15 digits and
# is not a date (2026-10-31). Rep ranges, loads and blood pressure have fewer digits.
PHONE_CANDIDATE = re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,}\d\)?(?![\w/])")
ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
TRAILING = ".,;:!?)]}'\""


def scrub_text(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with emails, URLs, phone numbers and the given names replaced."""
    out = EMAIL.sub("[email]", text)

    def url(match: re.Match[str]) -> str:
        # Punctuation that ends the sentence is not part of the address.
        found = match.group(0)
        kept = found.rstrip(TRAILING)
        return "[url]" + found[len(kept) :]

    out = URL.sub(url, out)

    def phone(match: re.Match[str]) -> str:
        candidate = match.group(0)
        digits = sum(c.isdigit() for c in candidate)
        if not 7 <= digits <= 15 or ISO_DATE.match(candidate.strip()):
            return candidate
        return "[phone]"

    out = PHONE_CANDIDATE.sub(phone, out)
    for name in sorted(_name_variants(names), key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[name]", out, flags=re.I)
    return out


def _name_variants(names: Iterable[str]) -> set[str]:
    """Each full name and every part of it of two or more letters."""
    variants: set[str] = set()
    for name in names:
        name = " ".join(name.split())
        if not name:
            continue
        variants.add(name)
        variants.update(p for p in re.split(r"[\s,.'-]+", name) if len(p) >= 2)
    return variants


def pseudonym(user_id: uuid.UUID | str, salt: bytes) -> str:
    """The person's key in this run's data: HMAC-SHA256 of the id under the run's salt."""
    digest = hmac.new(salt, f"user/{user_id}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:32]


SPLIT_KEY = "SELECT key FROM data_split_key"


def split_key(conn: psycopg.Connection) -> bytes:
    """The deployment's stable split key (``data_split_key``, made by migration 0019)."""
    row = conn.execute(SPLIT_KEY).fetchone()
    if row is None:
        raise RuntimeError("data_split_key is empty: run the migrations (fitsense db migrate)")
    value = row["key"] if isinstance(row, dict) else row[0]
    return bytes(value)


def stable_split(user_id: uuid.UUID | str, key: bytes) -> str:
    """train, val or test for a real person, at :data:`SPLITS` shares, by HMAC-SHA256 of
    the id under the stable ``key``: the same person lands in the same split every run."""
    return split_of_hex(hmac.new(key, f"split/{user_id}".encode(), hashlib.sha256).hexdigest())


def _pseudo_uuid(salt: bytes, *parts: object) -> str:
    digest = hmac.new(salt, "/".join(map(str, parts)).encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def anonymized_profile(profile: UserProfile, key: str) -> UserProfile:
    """The profile as prompts use it, and nothing more."""
    return UserProfile(
        user_id=key,
        age=BAND_AGES[profile.age_band],
        sex=profile.sex,
        height_cm=float(5 * round(profile.height_cm / 5)),
        activity_level=profile.activity_level,
        goals=profile.goals,
        experience=profile.experience,
        days_per_week=profile.days_per_week,
        session_length_min=profile.session_length_min,
        equipment=profile.equipment,
        conditions=tuple(sorted(profile.conditions)),
        injuries=tuple(
            sorted(
                {Injury(i.kind, i.body_region, i.status, i.kind) for i in profile.injuries},
                key=lambda i: (i.body_region, i.kind, i.status),
            )
        ),
    )


def is_consented(prompt: Prompt) -> bool:
    """Whether a prompt comes from a real person who opted in (else: synthetic)."""
    return prompt.user_id.startswith(PSEUDONYM_PREFIX)


def prompt_origin(prompt: Prompt) -> dict[str, Any]:
    """Where a prompt comes from: ``{"source": "synthetic"}``, or for a consented one its
    source, context type and the person's feedback (``rating`` of the newest, ``count``)."""
    if not is_consented(prompt):
        return {"source": "synthetic"}
    return json.loads(prompt.context_json)["origin"]


def origin_counts(prompts: Sequence[Prompt]) -> dict[str, Any]:
    """Real vs synthetic prompts and the feedback behind the real ones (for manifests)."""
    origins = [prompt_origin(p) for p in prompts]
    ratings = Counter((o["feedback"]["rating"] or "none") for o in origins if o["source"] == SOURCE)
    return {
        "synthetic": sum(o["source"] == "synthetic" for o in origins),
        "consented": sum(o["source"] == SOURCE for o in origins),
        "consented_people": len({p.user_id for p in prompts if is_consented(p)}),
        "feedback": {k: ratings.get(k, 0) for k in ("up", "down", "none")},
    }


# --- reading -----------------------------------------------------------------------------

INTERACTIONS = """
SELECT ai.id, ai.user_id, ai.context_type, ai.context_id, ai.query_text, ai.safety_level,
       ai.model_version, ai.created_at, j.plan_id AS produced_plan_id
FROM ai_interactions ai
JOIN users u ON u.id = ai.user_id
LEFT JOIN ai_jobs j ON j.id = ai.job_id
WHERE u.training_consent AND consented_at(ai.user_id, ai.created_at)
  AND ai.outcome = 'ok' AND ai.context_type = ANY(%(types)s)
ORDER BY ai.created_at DESC, ai.id
LIMIT %(limit)s
"""

# Feedback on an interaction, or on the plan version the interaction's job produced.
FEEDBACK = """
SELECT ai.id AS interaction_id, f.rating, f.comment, f.created_at
FROM ai_interactions ai
LEFT JOIN ai_jobs j ON j.id = ai.job_id
JOIN feedback f ON f.user_id = ai.user_id
 AND (f.interaction_id = ai.id OR (j.plan_id IS NOT NULL AND f.plan_id = j.plan_id))
WHERE ai.id = ANY(%(ids)s) AND consented_at(f.user_id, f.created_at)
ORDER BY f.created_at, f.id
"""

PROFILES = """
SELECT u.id, u.name, u.email, p.date_of_birth, p.sex, p.height_cm::float8 AS height_cm,
       p.activity_level, pr.days_per_week, pr.experience, pr.session_length_min,
       ARRAY(SELECT g.code FROM user_goals ug JOIN goals g ON g.id = ug.goal_id
             WHERE ug.user_id = u.id ORDER BY ug.priority) AS goals,
       ARRAY(SELECT e.code FROM user_equipment ue JOIN equipment e ON e.id = ue.equipment_id
             WHERE ue.user_id = u.id ORDER BY e.code) AS equipment,
       ARRAY(SELECT ARRAY[c.code, uc.severity] FROM user_conditions uc
             JOIN conditions c ON c.id = uc.condition_id
             WHERE uc.user_id = u.id ORDER BY c.code) AS conditions,
       ARRAY(SELECT ARRAY[m.kind, m.body_region, m.status] FROM user_medical_profiles m
             WHERE m.user_id = u.id ORDER BY m.body_region, m.kind, m.status) AS injuries
FROM users u
JOIN user_profiles p ON p.user_id = u.id
JOIN user_preferences pr ON pr.user_id = u.id
WHERE u.training_consent AND u.id = ANY(%(ids)s)
"""

PLAN = """
SELECT json_build_object(
    'plan_name', wp.name,
    'days', coalesce((
        SELECT json_agg(json_build_object(
                   'name', pd.name, 'day_order', pd.day_order, 'notes', pd.notes,
                   'exercises', coalesce((
                       SELECT json_agg(json_build_object(
                                  'exercise_name', e.name, 'position', pe.position,
                                  'notes', pe.notes,
                                  'sets', coalesce((
                                      SELECT json_agg(json_build_object(
                                                 'set_number', ps.set_number,
                                                 'target_reps', ps.target_reps,
                                                 'target_rir', ps.target_rir,
                                                 'rest_seconds', ps.rest_seconds)
                                             ORDER BY ps.set_number)
                                      FROM plan_sets ps WHERE ps.plan_exercise_id = pe.id),
                                      '[]'::json))
                              ORDER BY pe.position)
                       FROM plan_exercises pe JOIN exercises e ON e.id = pe.exercise_id
                       WHERE pe.plan_day_id = pd.id), '[]'::json))
               ORDER BY pd.day_order)
        FROM plan_days pd WHERE pd.plan_id = wp.id), '[]'::json)) AS plan
FROM workout_plans wp WHERE wp.id = %(plan_id)s AND wp.user_id = %(user_id)s
"""

# New material for a retraining decision: consented ok interactions, and feedback of
# consenting people on such interactions (or on the plans their jobs produced).
ACTIVITY = """
SELECT
  (SELECT count(*) FROM ai_interactions ai JOIN users u ON u.id = ai.user_id
    WHERE u.training_consent AND consented_at(ai.user_id, ai.created_at)
      AND ai.outcome = 'ok' AND ai.context_type = ANY(%(types)s)
      AND ai.created_at > %(since)s)
  +
  (SELECT count(*) FROM feedback f JOIN users u ON u.id = f.user_id
    WHERE u.training_consent AND consented_at(f.user_id, f.created_at)
      AND f.created_at > %(since)s
      AND EXISTS (
        SELECT 1 FROM ai_interactions ai LEFT JOIN ai_jobs j ON j.id = ai.job_id
        WHERE ai.user_id = f.user_id AND ai.outcome = 'ok'
          AND consented_at(ai.user_id, ai.created_at)
          AND ai.context_type = ANY(%(types)s)
          AND (ai.id = f.interaction_id OR (j.plan_id IS NOT NULL AND j.plan_id = f.plan_id))))
"""


@dataclass(frozen=True)
class Feedback:
    rating: str | None = None  # the newest: up | down; None without feedback
    comment: str | None = None  # the newest comment, scrubbed
    count: int = 0
    up: int = 0
    down: int = 0


@dataclass(frozen=True)
class ConsentedRow:
    """One consented interaction as it may leave the database."""

    key: str
    prompt_id: str
    context_type: str
    prompt_type: str
    topic: str
    day: date
    safety_level: str
    model_version: str | None
    request: str
    feedback: Feedback
    profile: UserProfile
    split: str

    def record(self) -> dict[str, Any]:
        p = self.profile
        return {
            "key": self.key,
            "split": self.split,
            "prompt_id": self.prompt_id,
            "context_type": self.context_type,
            "prompt_type": self.prompt_type,
            "topic": self.topic,
            "day": self.day,
            "safety_level": self.safety_level,
            "model_version": self.model_version,
            "request": self.request,
            "rating": self.feedback.rating,
            "comment": self.feedback.comment,
            "feedback_count": self.feedback.count,
            "age_band": p.age_band,
            "sex": p.sex,
            "goal": p.goal,
            "experience": p.experience,
            "equipment": " ".join(sorted(p.equipment)),
            "condition_flag": p.condition_flag,
            "conditions": " ".join(code for code, _ in p.conditions),
            "injury_regions": " ".join(sorted({i.body_region for i in p.current_injuries})),
        }


ROW_COLUMNS = (
    "key",
    "split",
    "prompt_id",
    "context_type",
    "prompt_type",
    "topic",
    "day",
    "safety_level",
    "model_version",
    "request",
    "rating",
    "comment",
    "feedback_count",
    "age_band",
    "sex",
    "goal",
    "experience",
    "equipment",
    "condition_flag",
    "conditions",
    "injury_regions",
)


@dataclass(frozen=True)
class ConsentedBatch:
    rows: list[ConsentedRow]
    prompts: list[Prompt]
    # Interactions of consenting people left out: onboarding no longer complete.
    skipped: int = 0

    @property
    def people(self) -> int:
        return len({r.key for r in self.rows})

    def feedback_counts(self) -> dict[str, int]:
        return {
            "rated_interactions": sum(r.feedback.count > 0 for r in self.rows),
            "feedback_rows": sum(r.feedback.count for r in self.rows),
            "up": sum(r.feedback.up for r in self.rows),
            "down": sum(r.feedback.down for r in self.rows),
            "with_comment": sum(r.feedback.comment is not None for r in self.rows),
        }


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _profile(row: dict[str, Any], on: date) -> UserProfile:
    return UserProfile(
        user_id=str(row["id"]),
        age=_age(row["date_of_birth"], on),
        sex=row["sex"],
        height_cm=row["height_cm"],
        activity_level=row["activity_level"],
        goals=tuple(row["goals"]),
        experience=row["experience"],
        days_per_week=row["days_per_week"],
        session_length_min=row["session_length_min"],
        equipment=frozenset(row["equipment"]),
        conditions=tuple((c, s) for c, s in row["conditions"]),
        injuries=tuple(Injury(k, r, s, k) for k, r, s in row["injuries"]),
    )


def _plan(
    conn: psycopg.Connection, plan_id: uuid.UUID, user_id: uuid.UUID, names: Sequence[str]
) -> Plan | None:
    row = conn.execute(PLAN, {"plan_id": plan_id, "user_id": user_id}).fetchone()
    if row is None:
        return None
    doc = row["plan"]
    doc["plan_name"] = scrub_text(doc["plan_name"], names)
    for day in doc["days"]:
        day["notes"] = scrub_text(day["notes"], names) if day["notes"] else day["notes"]
        for ex in day["exercises"]:
            ex["notes"] = scrub_text(ex["notes"], names) if ex["notes"] else ex["notes"]
    return Plan.model_validate(doc)


def _sessions(
    conn: psycopg.Connection, user_id: uuid.UUID, at: datetime
) -> tuple[LoggedSession, ...]:
    """The last sessions before the request, as the API's coaching context reads them."""
    rows = conn.execute(*for_psycopg(LAST_SESSIONS_SQL, user_id, at)).fetchall()
    # Weights stay behind: the prompt needs effort against targets, not loads.
    return sessions_from_rows(rows, loads=False)


def _feedback(items: list[dict[str, Any]], names: Sequence[str]) -> Feedback:
    if not items:
        return Feedback()
    newest = items[-1]
    comments = [i["comment"] for i in items if i["comment"]]
    return Feedback(
        rating=newest["rating"],
        comment=scrub_text(comments[-1], names) if comments else None,
        count=len(items),
        up=sum(i["rating"] == "up" for i in items),
        down=sum(i["rating"] == "down" for i in items),
    )


def _topic(prompt_type: str, request: str, profile: UserProfile, blocked: frozenset[str]) -> str:
    if prompt_type == "coaching":
        return classify_topic(request)
    if prompt_type == "plan_creation":
        return profile.goal
    intents = [i for i in detect_intents(request) if i in UPDATE_TOPICS]
    if intents:
        return intents[0]
    return "injury" if blocked - profile.blocked_tags else ""


def _prompt(
    run_id: str,
    row: ConsentedRow,
    verdict: Triage,
    plan: Plan | None,
    sessions: tuple[LoggedSession, ...],
) -> Prompt:
    profile = row.profile
    wants_plan = row.prompt_type in ("plan_creation", "plan_update")
    output_type = "plan" if wants_plan and verdict.allows_plan else "reply"
    profile_text = render_profile(profile)
    body = profile_text
    if row.prompt_type == "plan_update":
        body = "\n\n".join(
            [
                profile_text,
                render_plan(plan) if plan else "No current plan.",
                render_sessions(sessions),
            ]
        )
    context = json.loads(context_to_json(profile, plan, sessions))
    context["origin"] = {
        "source": SOURCE,
        "context_type": row.context_type,
        "split": row.split,
        "feedback": {
            "rating": row.feedback.rating,
            "count": row.feedback.count,
            "comment": row.feedback.comment,
        },
    }
    return Prompt(
        prompt_id=row.prompt_id,
        run_id=run_id,
        user_id=row.key,
        prompt_type=row.prompt_type,
        topic=row.topic,
        request=row.request,
        system=SYSTEM_PLAN if output_type == "plan" else SYSTEM_COACH,
        user_message=f"{body}\n\nRequest: {one_line(row.request)}",
        output_type=output_type,
        context_json=json.dumps(context, sort_keys=True),
        slices=slice_tags(profile, row.prompt_type),
        expected_safety_level=str(verdict.level),
        expected_blocked_tags=tuple(sorted(verdict.blocked_tags)),
        days_per_week=profile.days_per_week,
    )


def extract_consented(
    database_url: str, run_id: str, salt: bytes, *, limit: int = DEFAULT_LIMIT
) -> ConsentedBatch:
    """The newest ``limit`` consented ok interactions, anonymized, and their prompts.

    One read-only repeatable-read transaction: consent, interactions, feedback and
    profiles are read as of one moment."""
    if len(salt) < 16:
        raise ValueError("the pseudonym salt must have at least 16 bytes")
    conn = connect(database_url, purpose="consented interactions")
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        conn.row_factory = dict_row
        with conn.transaction():
            return _extract(conn, run_id, salt, limit)
    finally:
        conn.close()


def _extract(conn: psycopg.Connection, run_id: str, salt: bytes, limit: int) -> ConsentedBatch:
    interactions = conn.execute(
        INTERACTIONS, {"types": list(PROMPT_TYPES), "limit": limit}
    ).fetchall()
    if not interactions:
        return ConsentedBatch([], [])
    ids = [i["id"] for i in interactions]
    feedback: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for f in conn.execute(FEEDBACK, {"ids": ids}).fetchall():
        feedback[f["interaction_id"]].append(f)
    people = {
        p["id"]: p
        for p in conn.execute(
            PROFILES, {"ids": list({i["user_id"] for i in interactions})}
        ).fetchall()
    }
    stable = split_key(conn)
    rows, prompts, skipped = [], [], 0
    plans: dict[uuid.UUID, Plan | None] = {}
    for item in sorted(interactions, key=lambda i: (i["created_at"], i["id"])):
        person = people.get(item["user_id"])
        if person is None:
            skipped += 1
            continue
        names = (person["name"],)
        key = pseudonym(item["user_id"], salt)
        day = item["created_at"].astimezone(UTC).date()
        profile = anonymized_profile(_profile(person, day), key)
        prompt_type = PROMPT_TYPES[item["context_type"]]
        request = scrub_text(item["query_text"], names)
        verdict = triage(request, profile)
        plan: Plan | None = None
        sessions: tuple[LoggedSession, ...] = ()
        if prompt_type == "plan_update":
            if item["context_id"] is not None:
                if item["context_id"] not in plans:
                    plans[item["context_id"]] = _plan(
                        conn, item["context_id"], item["user_id"], names
                    )
                plan = plans[item["context_id"]]
            sessions = _sessions(conn, item["user_id"], item["created_at"])
        row = ConsentedRow(
            key=key,
            prompt_id=_pseudo_uuid(salt, "interaction", item["id"]),
            context_type=item["context_type"],
            prompt_type=prompt_type,
            topic=_topic(prompt_type, request, profile, verdict.blocked_tags),
            day=day,
            safety_level=item["safety_level"],
            model_version=item["model_version"],
            request=request,
            feedback=_feedback(feedback.get(item["id"], []), names),
            profile=profile,
            split=stable_split(item["user_id"], stable),
        )
        rows.append(row)
        prompts.append(_prompt(run_id, row, verdict, plan, sessions))
    return ConsentedBatch(rows, prompts, skipped)


def consented_activity_since(database_url: str, since: datetime | None) -> int:
    """How many consented ok interactions and feedback rows on them arrived after
    ``since`` (all of them for None; a naive ``since`` is read as UTC)."""
    if since is None:
        since = datetime.min.replace(tzinfo=UTC)
    elif since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with connect(database_url, purpose="consented activity") as conn:
        row = conn.execute(ACTIVITY, {"types": list(PROMPT_TYPES), "since": since}).fetchone()
    return int(row[0])


UUID_TEXT = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)

# Ids of rows that belong to a person: none of them may appear in the written data.
LEAKED_IDS = " + ".join(
    f"(SELECT count(*) FROM {table} WHERE id = ANY(%(ids)s::uuid[]))"
    for table in ("users", "ai_interactions", "feedback", "workout_plans", "ai_jobs", "workouts")
)


def find_leaks(database_url: str, texts: Iterable[str], free_texts: Iterable[str]) -> list[str]:
    """What identifies someone in the written data. ``texts`` (every value written) must
    hold no database id of a person's rows and no email address; ``free_texts`` (the
    requests and comments) no URL, phone number or consenting person's full name. Empty:
    nothing found."""
    blob = "\n".join(texts)
    free = list(free_texts)
    problems = []
    emails = EMAIL.findall(blob)
    if emails:
        problems.append(f"email addresses: {len(emails)}")
    contacts = sum(scrub_text(t) != t for t in free)
    if contacts:
        problems.append(f"free texts with a URL or phone number: {contacts}")
    ids = sorted({m.lower() for m in UUID_TEXT.findall(blob)})
    with connect(database_url, purpose="consented leak check") as conn:
        leaked = conn.execute(f"SELECT {LEAKED_IDS}", {"ids": ids}).fetchone()[0] if ids else 0
        names = [n for (n,) in conn.execute("SELECT name FROM users WHERE training_consent")]
    if leaked:
        problems.append(f"database ids: {leaked}")
    lowered = "\n".join(free).lower()
    named = sum(" ".join(n.split()).lower() in lowered for n in names if len(n.strip()) >= 3)
    if named:
        problems.append(f"names of consenting people: {named}")
    return problems


__all__ = [
    "ConsentedBatch",
    "ConsentedRow",
    "Feedback",
    "anonymized_profile",
    "consented_activity_since",
    "extract_consented",
    "find_leaks",
    "is_consented",
    "origin_counts",
    "prompt_origin",
    "pseudonym",
    "scrub_text",
]

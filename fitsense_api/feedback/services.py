"""Training consent and feedback: all SQL of the feedback context.

Feedback is a log: rating the same plan or answer again adds a row, and the newest one
counts. Whatever is stored here reaches a training dataset only while the person's
consent is on, anonymized (``fitsense_core.consented``).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from fitsense_api.errors import NotFound, Unprocessable
from fitsense_api.feedback.schemas import (
    FeedbackIn,
    FeedbackOut,
    FeedbackPage,
    TrainingConsentOut,
)

GET_CONSENT = """
SELECT training_consent, training_consent_changed_at FROM users WHERE id = $1
"""

# The time moves only when the value does: it says when the person last changed their mind.
PUT_CONSENT = """
UPDATE users SET
    training_consent = $2,
    training_consent_changed_at = CASE WHEN training_consent IS DISTINCT FROM $2 THEN now()
                                       ELSE training_consent_changed_at END
WHERE id = $1
RETURNING training_consent, training_consent_changed_at
"""

# No row when the target is not one of the caller's (or does not exist): nothing stored.
INSERT_FEEDBACK = """
INSERT INTO feedback (user_id, plan_id, interaction_id, rating, comment)
SELECT $1, $2, $3, $4, $5
WHERE EXISTS (SELECT 1 FROM workout_plans WHERE id = $2 AND user_id = $1)
   OR EXISTS (SELECT 1 FROM ai_interactions WHERE id = $3 AND user_id = $1)
RETURNING id, plan_id, interaction_id, rating, comment, created_at
"""

LIST_FEEDBACK = """
SELECT id, plan_id, interaction_id, rating, comment, created_at, count(*) OVER () AS total
FROM feedback WHERE user_id = $1
ORDER BY created_at DESC, id
LIMIT $2 OFFSET $3
"""


def _consent(row: asyncpg.Record | None) -> TrainingConsentOut:
    if row is None:
        raise NotFound("the account no longer exists")
    return TrainingConsentOut(
        opted_in=row["training_consent"], changed_at=row["training_consent_changed_at"]
    )


def _feedback(row: asyncpg.Record) -> FeedbackOut:
    plan_id = row["plan_id"]
    return FeedbackOut(
        id=row["id"],
        target_type="plan" if plan_id is not None else "interaction",
        target_id=plan_id if plan_id is not None else row["interaction_id"],
        rating=row["rating"],
        comment=row["comment"],
        created_at=row["created_at"],
    )


async def get_consent(conn: asyncpg.Connection, user_id: UUID) -> TrainingConsentOut:
    return _consent(await conn.fetchrow(GET_CONSENT, user_id))


async def put_consent(
    conn: asyncpg.Connection, user_id: UUID, opted_in: bool
) -> TrainingConsentOut:
    return _consent(await conn.fetchrow(PUT_CONSENT, user_id, opted_in))


async def add_feedback(conn: asyncpg.Connection, user_id: UUID, data: FeedbackIn) -> FeedbackOut:
    comment = None
    if data.comment is not None:
        comment = data.comment.strip()
        if not comment:
            raise Unprocessable.field("comment", "must not be blank (leave it out instead)")
    is_plan = data.target_type == "plan"
    row = await conn.fetchrow(
        INSERT_FEEDBACK,
        user_id,
        data.target_id if is_plan else None,
        None if is_plan else data.target_id,
        data.rating,
        comment,
    )
    if row is None:
        what = "plan version" if is_plan else "AI interaction"
        raise NotFound(
            f"no {what} {data.target_id} among yours",
            [{"field": "target_id", "message": f"not one of your {what}s"}],
        )
    return _feedback(row)


async def list_feedback(
    conn: asyncpg.Connection, user_id: UUID, limit: int, offset: int
) -> FeedbackPage:
    rows = await conn.fetch(LIST_FEEDBACK, user_id, limit, offset)
    if rows:
        total = rows[0]["total"]
    else:  # past the last page the window count is gone; the total is still known
        total = await conn.fetchval("SELECT count(*) FROM feedback WHERE user_id = $1", user_id)
    return FeedbackPage(items=[_feedback(r) for r in rows], total=total, limit=limit, offset=offset)

"""The caller's training consent, and feedback on their plans and AI answers."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from fitsense_api.deps import Connection, User
from fitsense_api.feedback import services
from fitsense_api.feedback.schemas import (
    FeedbackIn,
    FeedbackOut,
    FeedbackPage,
    TrainingConsentIn,
    TrainingConsentOut,
)
from fitsense_api.openapi import BEARER

CONSENT_SCOPE = (
    "With consent on, your questions and plan requests that the model answered (outcome "
    "`ok`), and your feedback on them, may be used to train the next coach model, "
    "anonymized: no id, name or email "
    "leaves the database, free text is cleaned of emails, phone numbers and URLs, and the "
    "profile is reduced to age band, sex, goals, experience, equipment and injury or "
    "condition flags. Off by default; turning it off keeps you out of every dataset built "
    "afterwards."
)


class TrainingConsentController(Controller):
    path = "/me/training-consent"
    tags = ["accounts"]
    security = BEARER

    @get(
        "/",
        operation_id="getTrainingConsent",
        summary="Whether the caller lets FitSense learn from their coaching",
        description=CONSENT_SCOPE,
    )
    async def get_consent(self, user: User, connection: Connection) -> TrainingConsentOut:
        return await services.get_consent(connection, user.id)

    @put(
        "/",
        operation_id="putTrainingConsent",
        summary="Opt in to, or out of, training use",
        description=CONSENT_SCOPE + " `changed_at` moves only when the value changes.",
    )
    async def put_consent(
        self, data: JSONBody[TrainingConsentIn], user: User, connection: Connection
    ) -> TrainingConsentOut:
        return await services.put_consent(connection, user.id, data.opted_in)


class FeedbackController(Controller):
    path = "/feedback"
    tags = ["feedback"]
    security = BEARER

    @post(
        "/",
        operation_id="createFeedback",
        status_code=HTTP_201_CREATED,
        summary="Rate a plan version or an AI answer (thumbs up or down)",
        description="The target must be the caller's own (404 otherwise; nothing is "
        "stored). Rating the same target again adds a row; the newest counts. Feedback "
        "reaches training data only with training consent on (PUT /me/training-consent).",
    )
    async def create(
        self, data: JSONBody[FeedbackIn], user: User, connection: Connection
    ) -> FeedbackOut:
        return await services.add_feedback(connection, user.id, data)

    @get("/", operation_id="listFeedback", summary="The caller's feedback, newest first")
    async def list_feedback(
        self,
        user: User,
        connection: Connection,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> FeedbackPage:
        return await services.list_feedback(connection, user.id, limit, offset)

"""Logged workouts: log a session, list, read, replace and delete sessions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from fitsense_api.deps import Connection, User
from fitsense_api.openapi import BEARER
from fitsense_api.workouts import services
from fitsense_api.workouts.schemas import WorkoutIn, WorkoutOut, WorkoutPage

BOUND = "A date (midnight UTC) or a date-time with a UTC offset."
WorkoutId = Annotated[UUID, PathParameter(description="One of the caller's workouts.")]


class WorkoutsController(Controller):
    path = "/workouts"
    tags = ["workouts"]
    security = BEARER

    @post(
        "/",
        operation_id="createWorkout",
        status_code=HTTP_201_CREATED,
        summary="Log a whole session: its exercises and their sets",
        description="Written atomically; positions and set numbers follow list order. "
        "With an `Idempotency-Key`, repeating the same request answers the first result "
        "again (header `Idempotent-Replayed: true`) instead of logging the session twice; "
        "the same key with another body is a 422.",
        response_headers=[
            ResponseHeader(
                name="Idempotent-Replayed",
                value="true",
                description="`true` when this answer replays an earlier request's.",
                documentation_only=True,
            )
        ],
    )
    async def create_workout(
        self,
        data: JSONBody[WorkoutIn],
        user: User,
        connection: Connection,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                description="1-200 characters of A-Z a-z 0-9 _ . : - chosen by the client, "
                "one per intended session.",
                # Checked by the service, so that a bad key is named like the header.
                schema_extra={
                    "min_length": 1,
                    "max_length": services.MAX_KEY,
                    "pattern": f"^{services.IDEMPOTENCY_KEY.pattern}$",
                },
            ),
        ] = None,
    ) -> Response[WorkoutOut]:
        created = await services.create_workout(connection, user.id, data, idempotency_key)
        headers = {"Idempotent-Replayed": "true"} if created.replayed else {}
        return Response(created.workout, status_code=created.status_code, headers=headers)

    @get(
        "/",
        operation_id="listWorkouts",
        summary="The caller's sessions, newest first, with their totals",
        description="Keyset-paginated: pass `next_cursor` back as `cursor` until it is null. "
        "`from` is inclusive and `to` exclusive, on started_at.",
    )
    async def list_workouts(
        self,
        user: User,
        connection: Connection,
        start: Annotated[
            str | None, QueryParameter(name="from", max_length=64, description=BOUND)
        ] = None,
        end: Annotated[
            str | None, QueryParameter(name="to", max_length=64, description=BOUND)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[
            str | None,
            QueryParameter(max_length=100, description="`next_cursor` of the previous page."),
        ] = None,
    ) -> WorkoutPage:
        return await services.list_workouts(
            connection,
            user.id,
            services.parse_bound(start, "query.from"),
            services.parse_bound(end, "query.to"),
            limit,
            cursor,
        )

    @get("/{workout_id:uuid}", operation_id="getWorkout", summary="One session, in full")
    async def get_workout(
        self, workout_id: WorkoutId, user: User, connection: Connection
    ) -> WorkoutOut:
        return await services.get_workout(connection, user.id, workout_id)

    @put(
        "/{workout_id:uuid}",
        operation_id="replaceWorkout",
        summary="Replace a whole session",
        description="Same body as POST; the id and created_at stay, everything else is "
        "replaced in one transaction.",
    )
    async def replace_workout(
        self, workout_id: WorkoutId, data: JSONBody[WorkoutIn], user: User, connection: Connection
    ) -> WorkoutOut:
        return await services.replace_workout(connection, user.id, workout_id, data)

    @delete(
        "/{workout_id:uuid}",
        operation_id="deleteWorkout",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a session with its exercises and sets",
    )
    async def delete_workout(
        self, workout_id: WorkoutId, user: User, connection: Connection
    ) -> None:
        await services.delete_workout(connection, user.id, workout_id)

"""Daily signals (a value per day per kind) and the calorie and sleep targets."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from fitsense_api.deps import Connection, User
from fitsense_api.openapi import BEARER
from fitsense_api.signals import services
from fitsense_api.signals.schemas import (
    VALUE_SCHEMA,
    ActiveTargets,
    BulkIn,
    BulkOut,
    CalorieTarget,
    CalorieTargetIn,
    SignalEntry,
    SignalKind,
    SleepTarget,
    SleepTargetIn,
    TargetKind,
)

Kind = Annotated[
    SignalKind,
    PathParameter(
        description="calories {kcal}, sleep {hours}, body {weight_kg, body_fat_pct} or "
        "readiness {soreness, energy, mood, resting_hr, steps}."
    ),
]
Day = Annotated[date, PathParameter(description="The day (ISO date), at most tomorrow.")]


# Parsed by the service (an ISO date), so that errors name `from`/`to`, not Python's names.
def _day_bound(name: str, description: str) -> QueryParameter:
    return QueryParameter(
        name=name, max_length=10, description=description, schema_extra={"format": "date"}
    )


# The value's fields depend on the path's kind: taken as a JSON object, decoded per kind.
SignalValueBody = Annotated[
    dict[str, Any],
    Body(
        media_type=RequestEncodingType.JSON,
        description="The value fields of the path's kind; absent fields become null.",
        schema_extra=VALUE_SCHEMA,
    ),
]


class SignalsController(Controller):
    path = "/signals"
    tags = ["signals"]
    security = BEARER

    @put(
        "/{kind:str}/{day:date}",
        operation_id="putSignal",
        summary="Set a day's value of a signal",
        description="Idempotent upsert: the day's row holds exactly the fields sent (body "
        "and readiness need at least one).",
    )
    async def put_signal(
        self, kind: Kind, day: Day, data: SignalValueBody, user: User, connection: Connection
    ) -> SignalEntry:
        return await services.put_signal(connection, user.id, kind, day, data)

    @post(
        "/{kind:str}/bulk",
        operation_id="importSignals",
        status_code=HTTP_200_OK,
        summary="Import up to 366 days of a signal at once",
        description="One statement, all or nothing: existing days are replaced.",
    )
    async def import_signals(
        self, kind: Kind, data: JSONBody[BulkIn], user: User, connection: Connection
    ) -> BulkOut:
        return BulkOut(imported=await services.import_signals(connection, user.id, kind, data))

    @get(
        "/{kind:str}",
        operation_id="listSignals",
        summary="A signal's entries over a date range, oldest first",
        description="`from` and `to` are inclusive and at most 366 days apart; by default "
        "the 30 days up to today (UTC).",
    )
    async def list_signals(
        self,
        kind: Kind,
        user: User,
        connection: Connection,
        start: Annotated[
            str | None, _day_bound(name="from", description="First day, 1900-01-01 or later.")
        ] = None,
        end: Annotated[
            str | None, _day_bound(name="to", description="Last day, 1900-01-01 or later.")
        ] = None,
    ) -> list[SignalEntry]:
        return await services.list_signals(
            connection,
            user.id,
            kind,
            services.parse_day(start, "query.from"),
            services.parse_day(end, "query.to"),
        )

    @delete(
        "/{kind:str}/{day:date}",
        operation_id="deleteSignal",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove a day's value of a signal",
    )
    async def delete_signal(self, kind: Kind, day: Day, user: User, connection: Connection) -> None:
        await services.delete_signal(connection, user.id, kind, day)


class TargetsController(Controller):
    path = "/targets"
    tags = ["targets"]
    security = BEARER

    @get("/", operation_id="getTargets", summary="The active calorie and sleep targets")
    async def get_targets(self, user: User, connection: Connection) -> ActiveTargets:
        return await services.active_targets(connection, user.id)

    @post(
        "/calories",
        operation_id="setCalorieTarget",
        status_code=HTTP_201_CREATED,
        summary="Start a new daily calorie target",
        description="The active target ends the day before the new one starts; 409 if "
        "another target was set at the same moment.",
    )
    async def set_calorie_target(
        self, data: JSONBody[CalorieTargetIn], user: User, connection: Connection
    ) -> CalorieTarget:
        return await services.set_target(connection, user.id, "calories", data.kcal, data.starts_on)

    @post(
        "/sleep",
        operation_id="setSleepTarget",
        status_code=HTTP_201_CREATED,
        summary="Start a new nightly sleep target",
        description="The active target ends the day before the new one starts; 409 if "
        "another target was set at the same moment.",
    )
    async def set_sleep_target(
        self, data: JSONBody[SleepTargetIn], user: User, connection: Connection
    ) -> SleepTarget:
        return await services.set_target(connection, user.id, "sleep", data.hours, data.starts_on)

    @get(
        "/{kind:str}/history",
        operation_id="listTargetHistory",
        summary="Every calorie or sleep target, newest first",
    )
    async def target_history(
        self,
        kind: Annotated[TargetKind, PathParameter(description="calories or sleep.")],
        user: User,
        connection: Connection,
    ) -> list[CalorieTarget] | list[SleepTarget]:
        return await services.target_history(connection, user.id, kind)

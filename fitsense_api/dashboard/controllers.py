"""The dashboard: adherence, volume, effort, sleep, calories, weight and readiness."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from fitsense_api.dashboard import services
from fitsense_api.dashboard.schemas import DEFAULT_WEEKS, MAX_WEEKS, MIN_WEEKS, DashboardOut
from fitsense_api.deps import Connection, User
from fitsense_api.openapi import BEARER


class DashboardController(Controller):
    path = "/dashboard"
    tags = ["dashboard"]
    security = BEARER

    @get(
        "/",
        operation_id="getDashboard",
        summary="Training, recovery and body trends over the last weeks",
        description="For the `weeks` ISO weeks (Monday to Sunday) ending with the current "
        "one: sessions done against planned (the active plan's training days per week, else "
        "the preferred days per week), working sets, reps and tonnage per primary muscle, "
        "logged against target RIR, sleep and calorie averages against the active targets, "
        "the weight trend (least-squares kg/week) and weekly readiness averages. Sessions "
        "are dated by their start in UTC; nothing after `today` is counted.",
    )
    async def get_dashboard(
        self,
        user: User,
        connection: Connection,
        weeks: Annotated[
            int,
            QueryParameter(ge=MIN_WEEKS, le=MAX_WEEKS, description="Number of ISO weeks."),
        ] = DEFAULT_WEEKS,
        today: Annotated[
            date | None,
            QueryParameter(
                description="The day the window ends, 2000-01-01 to 2100-12-31 "
                "(default: today in UTC)."
            ),
        ] = None,
    ) -> DashboardOut:
        return await services.get_dashboard(connection, user.id, today, weeks)

"""Plan versions: the current plan, the history, one version, the diff between two,
going back to an older version, and a plan written by hand."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from fitsense_api.deps import Connection, User
from fitsense_api.openapi import BEARER
from fitsense_api.plans import services
from fitsense_api.plans.schemas import (
    PLAN_EXAMPLE,
    PlanDiffOut,
    PlanHistoryPage,
    PlanVersionOut,
    plan_body_schema,
)

LOCATION = [
    ResponseHeader(
        name="Location", description="The new version: /plans/{id}.", documentation_only=True
    )
]


def _created(version: PlanVersionOut) -> Response[PlanVersionOut]:
    return Response(
        version, status_code=HTTP_201_CREATED, headers={"Location": f"/plans/{version.id}"}
    )


PlanId = Annotated[UUID, PathParameter(description="A plan version's id.")]

# The body is taken as raw JSON so the plan contract, not the decoder, reports every
# violation with its path; the OpenAPI document still describes it (from the contract).
ManualPlan = Annotated[
    dict[str, Any],
    Body(
        media_type=RequestEncodingType.JSON,
        description="A weekly plan in the plan-contract shape (SPEC §3): integers only, no "
        "weights, rest days named REST_n/RECOVERY_n with no exercises, catalog exercise names.",
        examples=[Example(summary="Two days of a plan", value=PLAN_EXAMPLE)],
        schema_extra=plan_body_schema(),
    ),
]


class PlansController(Controller):
    path = "/plans"
    tags = ["plans"]
    security = BEARER

    @get(
        "/current",
        operation_id="getCurrentPlan",
        summary="The active plan version, in full",
        description="404 while the caller has no plan.",
    )
    async def get_current(self, user: User, connection: Connection) -> PlanVersionOut:
        return await services.load_active_plan(connection, user.id)

    @get(
        "/",
        operation_id="listPlanVersions",
        summary="The plan's version history, newest first",
        description="Metadata and day counts of every version; the content is at "
        "GET /plans/{plan_id}.",
    )
    async def list_versions(
        self,
        user: User,
        connection: Connection,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> PlanHistoryPage:
        return await services.list_plans(connection, user.id, limit, offset)

    @get("/{plan_id:uuid}", operation_id="getPlanVersion", summary="One plan version, in full")
    async def get_version(
        self, plan_id: PlanId, user: User, connection: Connection
    ) -> PlanVersionOut:
        return await services.load_plan(connection, user.id, plan_id)

    @get(
        "/{plan_id:uuid}/diff",
        operation_id="diffPlanVersions",
        summary="What changed from version `against` to this version",
        description="Days are matched by day_order, exercises within a day by catalog "
        "exercise, sets by set_number. The summary compares training days, weekly hard sets "
        "and the mean target RIR. Both versions must be the caller's.",
    )
    async def diff(
        self,
        plan_id: PlanId,
        user: User,
        connection: Connection,
        against: Annotated[UUID, QueryParameter(description="The older version's id.")],
    ) -> PlanDiffOut:
        return await services.diff_versions(connection, user.id, plan_id, against)

    @post(
        "/{plan_id:uuid}/activate",
        operation_id="activatePlanVersion",
        status_code=HTTP_201_CREATED,
        response_headers=LOCATION,
        summary="Go back to an older version",
        description="Creates a new version with the same content, source and model version, "
        "whose parent is the activated version; it becomes the active plan. History is never "
        "rewritten. 409 when the version, or a copy of its content, is already the active one.",
    )
    async def activate(
        self, plan_id: PlanId, user: User, connection: Connection
    ) -> Response[PlanVersionOut]:
        return _created(await services.activate_version(connection, user.id, plan_id))

    @post(
        "/",
        operation_id="createManualPlan",
        status_code=HTTP_201_CREATED,
        response_headers=LOCATION,
        summary="Store a plan written by hand as the new active version",
        description="Checked by the plan contract: structure and ranges, plan rules, catalog "
        "names, and against the caller (training days = days per week, their equipment, "
        "nothing their conditions or injuries contraindicate, reps that fit the goal). Every "
        "violation is listed in `errors` with its path and code (422). 409 before onboarding "
        "is complete, or when the plan is identical to the active version. Stored with "
        "source `manual`; its parent is the version it replaces.",
    )
    async def create(
        self, data: ManualPlan, user: User, connection: Connection
    ) -> Response[PlanVersionOut]:
        return _created(await services.create_manual_plan(connection, user.id, data))

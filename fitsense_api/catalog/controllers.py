"""The exercise catalog (filters, search, "safe for me") and the reference lists."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, get
from litestar.params import PathParameter, QueryParameter

from fitsense_api.auth.security import provide_user
from fitsense_api.catalog import services
from fitsense_api.catalog.schemas import (
    ConditionOut,
    EquipmentOut,
    ExerciseOut,
    ExercisePage,
    GoalOut,
)
from fitsense_api.deps import Connection
from fitsense_api.errors import Unprocessable
from fitsense_api.profile.services import get_preferences, user_blocked_tags
from fitsense_core.reference import CATEGORIES, EQUIPMENT_BY_CODE, MOVEMENT_PATTERNS, MUSCLES

Muscle = Literal[MUSCLES]  # type: ignore[valid-type]
Pattern = Literal[MOVEMENT_PATTERNS]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]


class CatalogController(Controller):
    tags = ["catalog"]

    @get(
        "/exercises",
        operation_id="listExercises",
        summary="Search and filter the exercise catalog",
        description="Filters combine. `equipment` keeps exercises doable with only the listed "
        "equipment. `for_me=true` (needs a bearer token) keeps exercises that are safe for "
        "the caller's conditions and unresolved injuries, possible with their equipment and "
        "within their experience.",
    )
    async def list_exercises(
        self,
        request: Request,
        connection: Connection,
        muscle: Annotated[Muscle | None, QueryParameter()] = None,
        pattern: Annotated[Pattern | None, QueryParameter()] = None,
        category: Annotated[Category | None, QueryParameter()] = None,
        equipment: Annotated[
            list[str] | None,
            QueryParameter(
                description="Equipment codes at hand (repeat the parameter).", max_items=50
            ),
        ] = None,
        for_me: Annotated[
            bool, QueryParameter(description="Only what is safe and possible for the caller.")
        ] = False,
        q: Annotated[
            str | None, QueryParameter(description="Text in the name or slug.", max_length=100)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> ExercisePage:
        for i, code in enumerate(equipment or []):
            if code not in EQUIPMENT_BY_CODE:
                raise Unprocessable.field(f"query.equipment[{i}]", f"unknown equipment {code!r}")
        where = services.ExerciseFilter(
            muscle=muscle, pattern=pattern, category=category, equipment=equipment, search=q
        )
        if for_me:
            user = await provide_user(request, connection)
            preferences = await get_preferences(connection, user.id)
            have = preferences.equipment if preferences else []
            if equipment is not None:
                have = [c for c in have if c in equipment]
            where = services.ExerciseFilter(
                muscle=muscle,
                pattern=pattern,
                category=category,
                equipment=have,
                blocked_tags=sorted(await user_blocked_tags(connection, user.id)),
                max_experience=preferences.experience if preferences else "beginner",
                search=q,
            )
        return await services.list_exercises(connection, where, limit, offset)

    @get(
        "/exercises/{key:str}",
        operation_id="getExercise",
        summary="One exercise, by id or slug",
    )
    async def get_exercise(
        self,
        connection: Connection,
        key: Annotated[str, PathParameter(max_length=100, description="Exercise id or slug.")],
    ) -> ExerciseOut:
        return await services.get_exercise(connection, key)

    @get("/catalog/equipment", operation_id="listEquipment", summary="Equipment codes and names")
    async def list_equipment(self, connection: Connection) -> list[EquipmentOut]:
        return await services.list_equipment(connection)

    @get("/catalog/goals", operation_id="listGoals", summary="Training goals")
    async def list_goals(self, connection: Connection) -> list[GoalOut]:
        return await services.list_goals(connection)

    @get(
        "/catalog/conditions",
        operation_id="listConditions",
        summary="Health conditions, their contraindications and whether they need clearance",
    )
    async def list_conditions(self, connection: Connection) -> list[ConditionOut]:
        return await services.list_conditions(connection)

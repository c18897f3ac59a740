"""The onboarding document, and each of its sections on its own."""

from __future__ import annotations

from typing import TypeVar

from litestar import Controller, get, put
from litestar.params import JSONBody

from fitsense_api.deps import Connection, User
from fitsense_api.errors import NotFound
from fitsense_api.openapi import BEARER
from fitsense_api.profile import services
from fitsense_api.profile.schemas import (
    Allergies,
    Conditions,
    Goals,
    MedicalHistory,
    Medications,
    OnboardingIn,
    OnboardingOut,
    Preferences,
    Profile,
)

T = TypeVar("T")


def _found(value: T | None, what: str) -> T:
    if value is None:
        raise NotFound(f"no {what} yet: PUT it first")
    return value


class ProfileController(Controller):
    tags = ["profile"]
    security = BEARER

    @get("/onboarding", operation_id="getOnboarding", summary="The whole onboarding document")
    async def get_onboarding(self, user: User, connection: Connection) -> OnboardingOut:
        return await services.get_onboarding(connection, user.id)

    @put(
        "/onboarding",
        operation_id="putOnboarding",
        summary="Replace the whole onboarding document",
        description="Profile, preferences, goals, conditions, medical history, medications "
        "and allergies, replaced in one transaction: on any error nothing changes.",
    )
    async def put_onboarding(
        self, data: JSONBody[OnboardingIn], user: User, connection: Connection
    ) -> OnboardingOut:
        return await services.put_onboarding(connection, user.id, data)

    @get("/profile", operation_id="getProfile", summary="Date of birth, sex, height, activity")
    async def get_profile(self, user: User, connection: Connection) -> Profile:
        return _found(await services.get_profile(connection, user.id), "profile")

    @put("/profile", operation_id="putProfile", summary="Replace the profile")
    async def put_profile(
        self, data: JSONBody[Profile], user: User, connection: Connection
    ) -> Profile:
        return await services.put_profile(connection, user.id, data)

    @get(
        "/preferences",
        operation_id="getPreferences",
        summary="Days per week, experience, session length, equipment",
    )
    async def get_preferences(self, user: User, connection: Connection) -> Preferences:
        return _found(await services.get_preferences(connection, user.id), "preferences")

    @put("/preferences", operation_id="putPreferences", summary="Replace the preferences")
    async def put_preferences(
        self, data: JSONBody[Preferences], user: User, connection: Connection
    ) -> Preferences:
        return await services.put_preferences(connection, user.id, data)

    @get("/goals", operation_id="getGoals", summary="Goal codes in priority order")
    async def get_goals(self, user: User, connection: Connection) -> list[str]:
        return await services.get_goals(connection, user.id)

    @put("/goals", operation_id="putGoals", summary="Replace the goals (main goal first)")
    async def put_goals(
        self, data: JSONBody[Goals], user: User, connection: Connection
    ) -> list[str]:
        return await services.put_goals(connection, user.id, data)

    @get("/conditions", operation_id="getConditions", summary="Health conditions with severity")
    async def get_conditions(self, user: User, connection: Connection) -> Conditions:
        return await services.get_conditions(connection, user.id)

    @put("/conditions", operation_id="putConditions", summary="Replace the conditions")
    async def put_conditions(
        self, data: JSONBody[Conditions], user: User, connection: Connection
    ) -> Conditions:
        return await services.put_conditions(connection, user.id, data)

    @get(
        "/medical-history",
        operation_id="getMedicalHistory",
        summary="Injuries and surgeries",
    )
    async def get_medical_history(self, user: User, connection: Connection) -> MedicalHistory:
        return await services.get_medical_history(connection, user.id)

    @put(
        "/medical-history",
        operation_id="putMedicalHistory",
        summary="Replace the injuries and surgeries",
    )
    async def put_medical_history(
        self, data: JSONBody[MedicalHistory], user: User, connection: Connection
    ) -> MedicalHistory:
        return await services.put_medical_history(connection, user.id, data)

    @get("/medications", operation_id="getMedications", summary="Medications")
    async def get_medications(self, user: User, connection: Connection) -> Medications:
        return await services.get_medications(connection, user.id)

    @put("/medications", operation_id="putMedications", summary="Replace the medications")
    async def put_medications(
        self, data: JSONBody[Medications], user: User, connection: Connection
    ) -> Medications:
        return await services.put_medications(connection, user.id, data)

    @get("/allergies", operation_id="getAllergies", summary="Allergies")
    async def get_allergies(self, user: User, connection: Connection) -> Allergies:
        return await services.get_allergies(connection, user.id)

    @put("/allergies", operation_id="putAllergies", summary="Replace the allergies")
    async def put_allergies(
        self, data: JSONBody[Allergies], user: User, connection: Connection
    ) -> Allergies:
        return await services.put_allergies(connection, user.id, data)

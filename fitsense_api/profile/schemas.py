"""Wire schemas of the profile and onboarding document."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

Sex = Literal["M", "F", "other"]
ActivityLevel = Literal["sedentary", "lightly_active", "moderately_active", "very_active"]
Experience = Literal["beginner", "intermediate", "advanced"]
Severity = Literal["mild", "moderate", "severe"]
BodyRegion = Literal["knee", "lower_back", "shoulder", "wrist", "elbow", "ankle", "hip", "neck"]
MAX_GOALS = 5
MAX_CONDITIONS = 20
MAX_ITEMS = 50
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Note = Annotated[str, msgspec.Meta(max_length=500)]


class Profile(msgspec.Struct, forbid_unknown_fields=True):
    date_of_birth: Annotated[date, msgspec.Meta(examples=[date(1990, 5, 17)])]
    sex: Sex
    height_cm: Annotated[float, msgspec.Meta(ge=50, le=272, examples=[172.5])]
    activity_level: ActivityLevel


class Preferences(msgspec.Struct, forbid_unknown_fields=True):
    days_per_week: Annotated[int, msgspec.Meta(ge=1, le=7, examples=[4])]
    experience: Experience
    session_length_min: Annotated[int, msgspec.Meta(ge=10, le=240, examples=[60])]
    equipment: Annotated[
        list[Code],
        msgspec.Meta(
            max_length=50,
            description="Equipment codes (GET /equipment).",
            examples=[["dumbbell", "bench", "pull_up_bar"]],
        ),
    ] = msgspec.field(default_factory=list)


Goals = Annotated[
    list[Code],
    msgspec.Meta(
        min_length=1,
        max_length=MAX_GOALS,
        description="Goal codes in priority order, main goal first (GET /goals).",
        examples=[["muscle_gain", "strength"]],
    ),
]


class UserCondition(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[Code, msgspec.Meta(description="Condition code (GET /conditions).")]
    severity: Severity
    diagnosed_on: date | None = None
    notes: Note | None = None


class MedicalEvent(msgspec.Struct, forbid_unknown_fields=True):
    """An injury or surgery; while not resolved its body region limits the exercises."""

    kind: Literal["injury", "surgery"]
    body_region: BodyRegion
    status: Literal["active", "recovering", "resolved"]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    occurred_on: date | None = None


class Medication(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    dosage: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    notes: Note | None = None


class Allergy(msgspec.Struct, forbid_unknown_fields=True):
    allergen: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    severity: Severity


Conditions = Annotated[list[UserCondition], msgspec.Meta(max_length=MAX_CONDITIONS)]
MedicalHistory = Annotated[list[MedicalEvent], msgspec.Meta(max_length=MAX_ITEMS)]
Medications = Annotated[list[Medication], msgspec.Meta(max_length=MAX_ITEMS)]
Allergies = Annotated[list[Allergy], msgspec.Meta(max_length=MAX_ITEMS)]


class OnboardingIn(msgspec.Struct, forbid_unknown_fields=True):
    """The whole onboarding document; PUT replaces every part of it in one transaction."""

    profile: Profile
    preferences: Preferences
    goals: Goals
    conditions: Conditions = msgspec.field(default_factory=list)
    medical_history: MedicalHistory = msgspec.field(default_factory=list)
    medications: Medications = msgspec.field(default_factory=list)
    allergies: Allergies = msgspec.field(default_factory=list)


class OnboardingOut(msgspec.Struct):
    complete: bool
    profile: Profile | None
    preferences: Preferences | None
    goals: list[str]
    conditions: list[UserCondition]
    medical_history: list[MedicalEvent]
    medications: list[Medication]
    allergies: list[Allergy]

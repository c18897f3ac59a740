"""Reference data: goals, conditions, equipment, body regions and the exercise catalog.

This module is the one source of these facts. ``seed_reference_data`` upserts them into
PostgreSQL (run by ``fitsense db migrate``); the synthetic generator, the plan contract
and the safety policy read the same objects. Ids are UUIDv5 of the code, so every
database and every generated data set agree on them without a lookup.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg

REFERENCE_NAMESPACE = uuid.UUID("6f1d3c52-8a47-4e0b-9d7e-3b1f0c2a5e91")

MUSCLES = (
    "chest",
    "back",
    "shoulders",
    "biceps",
    "triceps",
    "forearms",
    "quads",
    "hamstrings",
    "glutes",
    "calves",
    "core",
    "full_body",
)
MOVEMENT_PATTERNS = (
    "squat",
    "hinge",
    "lunge",
    "horizontal_push",
    "vertical_push",
    "horizontal_pull",
    "vertical_pull",
    "carry",
    "core",
    "isolation",
    "locomotion",
    "mobility",
)
CATEGORIES = ("compound", "isolation", "core", "cardio", "plyometric", "mobility")
EXPERIENCE_LEVELS = ("beginner", "intermediate", "advanced")
CONTRAINDICATION_TAGS = (
    "knee_loading",
    "spinal_loading",
    "spinal_flexion",
    "overhead",
    "shoulder_loading",
    "wrist_loading",
    "elbow_loading",
    "hip_loading",
    "ankle_loading",
    "high_impact",
    "valsalva",
    "supine",
    "prone",
    "neck_loading",
)
SEVERITIES = ("mild", "moderate", "severe")
SEXES = ("M", "F", "other")
ACTIVITY_LEVELS = ("sedentary", "lightly_active", "moderately_active", "very_active")

# An active or recovering injury in a region excludes exercises with these tags.
BODY_REGION_TAGS: dict[str, tuple[str, ...]] = {
    "knee": ("knee_loading", "high_impact"),
    "lower_back": ("spinal_loading", "spinal_flexion"),
    "shoulder": ("overhead", "shoulder_loading"),
    "wrist": ("wrist_loading",),
    "elbow": ("elbow_loading",),
    "ankle": ("ankle_loading", "high_impact"),
    "hip": ("hip_loading", "high_impact"),
    "neck": ("neck_loading", "overhead"),
}
BODY_REGIONS = tuple(BODY_REGION_TAGS)


@cache
def reference_id(kind: str, code: str) -> str:
    return str(uuid.uuid5(REFERENCE_NAMESPACE, f"{kind}:{code}"))


@dataclass(frozen=True)
class Goal:
    code: str
    name: str
    description: str

    @property
    def id(self) -> str:
        return reference_id("goal", self.code)


@dataclass(frozen=True)
class Condition:
    code: str
    name: str
    contraindication_tags: tuple[str, ...]
    requires_clearance: bool = False

    @property
    def id(self) -> str:
        return reference_id("condition", self.code)


@dataclass(frozen=True)
class Equipment:
    code: str
    name: str

    @property
    def id(self) -> str:
        return reference_id("equipment", self.code)


@dataclass(frozen=True)
class Exercise:
    slug: str
    name: str
    primary_muscle: str
    movement_pattern: str
    category: str
    equipment: tuple[str, ...]
    contraindication_tags: tuple[str, ...]
    is_timed: bool
    load_factor: float
    min_experience: str

    @property
    def id(self) -> str:
        return reference_id("exercise", self.slug)


GOALS: tuple[Goal, ...] = (
    Goal("fat_loss", "Fat loss", "Lose body fat while keeping muscle."),
    Goal("muscle_gain", "Muscle gain", "Build muscle size (hypertrophy)."),
    Goal("strength", "Strength", "Lift heavier in the main compound lifts."),
    Goal("endurance", "Endurance", "Improve aerobic fitness and muscular endurance."),
    Goal("general_fitness", "General fitness", "Feel fitter and move well; balanced training."),
)

CONDITIONS: tuple[Condition, ...] = (
    Condition("knee_osteoarthritis", "Knee osteoarthritis", ("knee_loading", "high_impact")),
    Condition(
        "chronic_low_back_pain", "Chronic low back pain", ("spinal_loading", "spinal_flexion")
    ),
    Condition("shoulder_impingement", "Shoulder impingement", ("overhead",)),
    Condition("hypertension", "Hypertension (controlled)", ("valsalva",)),
    Condition(
        "uncontrolled_hypertension", "Uncontrolled hypertension", ("valsalva", "high_impact"), True
    ),
    Condition("type_2_diabetes", "Type 2 diabetes", ()),
    Condition("asthma", "Asthma", ()),
    Condition("osteoporosis", "Osteoporosis", ("spinal_flexion", "high_impact")),
    Condition("pregnancy", "Pregnancy", ("supine", "prone", "high_impact", "valsalva"), True),
    Condition(
        "coronary_artery_disease", "Coronary artery disease", ("valsalva", "high_impact"), True
    ),
    Condition("obesity", "Obesity", ("high_impact",)),
    Condition("plantar_fasciitis", "Plantar fasciitis", ("high_impact", "ankle_loading")),
    Condition("tennis_elbow", "Tennis elbow (lateral epicondylitis)", ("elbow_loading",)),
    Condition("carpal_tunnel", "Carpal tunnel syndrome", ("wrist_loading",)),
    Condition("eating_disorder", "Eating disorder (history or current)", (), True),
    Condition(
        "recent_surgery", "Recovering from recent surgery", ("valsalva", "high_impact"), True
    ),
)

EQUIPMENT: tuple[Equipment, ...] = tuple(
    Equipment(code, name)
    for code, name in (
        ("barbell", "Barbell and plates"),
        ("ez_bar", "EZ curl bar"),
        ("dumbbell", "Dumbbells"),
        ("kettlebell", "Kettlebells"),
        ("bench", "Adjustable bench"),
        ("squat_rack", "Squat rack"),
        ("pull_up_bar", "Pull-up bar"),
        ("dip_station", "Dip station"),
        ("cable_machine", "Cable machine"),
        ("lat_pulldown_machine", "Lat pulldown machine"),
        ("leg_press_machine", "Leg press machine"),
        ("leg_extension_machine", "Leg extension machine"),
        ("leg_curl_machine", "Leg curl machine"),
        ("smith_machine", "Smith machine"),
        ("resistance_band", "Resistance bands"),
        ("suspension_trainer", "Suspension trainer"),
        ("medicine_ball", "Medicine ball"),
        ("plyo_box", "Plyometric box"),
        ("jump_rope", "Jump rope"),
        ("treadmill", "Treadmill"),
        ("stationary_bike", "Stationary bike"),
        ("rowing_machine", "Rowing machine"),
        ("elliptical", "Elliptical trainer"),
    )
)

GOALS_BY_CODE = {g.code: g for g in GOALS}
CONDITIONS_BY_CODE = {c.code: c for c in CONDITIONS}
EQUIPMENT_BY_CODE = {e.code: e for e in EQUIPMENT}


class CatalogError(ValueError):
    """The packaged exercise catalog breaks a rule."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split("|") if v)


def _parse_row(line: int, row: dict[str, str]) -> Exercise:
    exercise = Exercise(
        slug=row["slug"],
        name=row["name"],
        primary_muscle=row["primary_muscle"],
        movement_pattern=row["movement_pattern"],
        category=row["category"],
        equipment=_split(row["equipment"]),
        contraindication_tags=_split(row["contraindication_tags"]),
        is_timed=row["is_timed"] == "true",
        load_factor=float(row["load_factor"]),
        min_experience=row["min_experience"],
    )
    problems = []
    if exercise.primary_muscle not in MUSCLES:
        problems.append(f"primary_muscle {exercise.primary_muscle!r}")
    if exercise.movement_pattern not in MOVEMENT_PATTERNS:
        problems.append(f"movement_pattern {exercise.movement_pattern!r}")
    if exercise.category not in CATEGORIES:
        problems.append(f"category {exercise.category!r}")
    if exercise.min_experience not in EXPERIENCE_LEVELS:
        problems.append(f"min_experience {exercise.min_experience!r}")
    if row["is_timed"] not in ("true", "false"):
        problems.append(f"is_timed {row['is_timed']!r}")
    problems += [f"equipment {e!r}" for e in exercise.equipment if e not in EQUIPMENT_BY_CODE]
    problems += [
        f"tag {t!r}" for t in exercise.contraindication_tags if t not in CONTRAINDICATION_TAGS
    ]
    if not 0 <= exercise.load_factor <= 5:
        problems.append(f"load_factor {exercise.load_factor}")
    if problems:
        raise CatalogError(
            f"exercises.csv line {line} ({exercise.slug}): bad {', '.join(problems)}"
        )
    return exercise


@cache
def exercise_catalog() -> tuple[Exercise, ...]:
    """The packaged catalog, validated; sorted by slug."""
    text = resources.files("fitsense_core.data").joinpath("exercises.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    exercises = [_parse_row(i + 2, row) for i, row in enumerate(rows)]
    for field in ("slug", "name"):
        values = [getattr(e, field) for e in exercises]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise CatalogError(f"exercises.csv has duplicate {field}s: {', '.join(dupes)}")
    return tuple(sorted(exercises, key=lambda e: e.slug))


def exercises_by_slug() -> dict[str, Exercise]:
    return {e.slug: e for e in exercise_catalog()}


def blocked_tags(condition_codes: list[str], injury_regions: list[str]) -> frozenset[str]:
    """Contraindication tags for a person's conditions and current injuries."""
    tags: set[str] = set()
    for code in condition_codes:
        tags.update(CONDITIONS_BY_CODE[code].contraindication_tags)
    for region in injury_regions:
        tags.update(BODY_REGION_TAGS[region])
    return frozenset(tags)


def seed_reference_data(conn: psycopg.Connection) -> dict[str, int]:
    """Upsert every reference row; safe to run any number of times."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO goals (id, code, name, description) VALUES (%s, %s, %s, %s)
               ON CONFLICT (code) DO UPDATE
               SET name = EXCLUDED.name, description = EXCLUDED.description""",
            [(g.id, g.code, g.name, g.description) for g in GOALS],
        )
        cur.executemany(
            """INSERT INTO conditions (id, code, name, contraindication_tags, requires_clearance)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (code) DO UPDATE
               SET name = EXCLUDED.name, contraindication_tags = EXCLUDED.contraindication_tags,
                   requires_clearance = EXCLUDED.requires_clearance""",
            [
                (c.id, c.code, c.name, list(c.contraindication_tags), c.requires_clearance)
                for c in CONDITIONS
            ],
        )
        cur.executemany(
            """INSERT INTO equipment (id, code, name) VALUES (%s, %s, %s)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name""",
            [(e.id, e.code, e.name) for e in EQUIPMENT],
        )
        catalog = exercise_catalog()
        cur.executemany(
            """INSERT INTO exercises (id, slug, name, primary_muscle, movement_pattern, category,
                                      contraindication_tags, is_timed, load_factor, min_experience)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (slug) DO UPDATE
               SET name = EXCLUDED.name, primary_muscle = EXCLUDED.primary_muscle,
                   movement_pattern = EXCLUDED.movement_pattern, category = EXCLUDED.category,
                   contraindication_tags = EXCLUDED.contraindication_tags,
                   is_timed = EXCLUDED.is_timed, load_factor = EXCLUDED.load_factor,
                   min_experience = EXCLUDED.min_experience""",
            [
                (
                    e.id,
                    e.slug,
                    e.name,
                    e.primary_muscle,
                    e.movement_pattern,
                    e.category,
                    list(e.contraindication_tags),
                    e.is_timed,
                    e.load_factor,
                    e.min_experience,
                )
                for e in catalog
            ],
        )
        cur.execute(
            "DELETE FROM exercise_equipment WHERE exercise_id = ANY(%s::uuid[])",
            ([e.id for e in catalog],),
        )
        links = [(e.id, EQUIPMENT_BY_CODE[code].id) for e in catalog for code in e.equipment]
        cur.executemany(
            "INSERT INTO exercise_equipment (exercise_id, equipment_id) VALUES (%s, %s)", links
        )
    return {
        "goals": len(GOALS),
        "conditions": len(CONDITIONS),
        "equipment": len(EQUIPMENT),
        "exercises": len(catalog),
        "exercise_equipment": len(links),
    }


MAJOR_MUSCLES = ("chest", "back", "shoulders", "quads", "hamstrings", "glutes", "core")
HOME_EQUIPMENT = frozenset({"dumbbell", "resistance_band"})


def catalog_coverage_gaps(
    restrictions: dict[str, set[str]], catalog: tuple[Exercise, ...] | None = None
) -> list[str]:
    """Restrictions that leave a beginner at home (dumbbells, bands or nothing) without any
    exercise for a major muscle group; empty when the catalog covers every case."""
    catalog = exercise_catalog() if catalog is None else catalog
    gaps = []
    for label, tags in restrictions.items():
        for muscle in MAJOR_MUSCLES:
            if not any(
                e.primary_muscle == muscle
                and set(e.equipment) <= HOME_EQUIPMENT
                and not set(e.contraindication_tags) & tags
                and e.min_experience == "beginner"
                for e in catalog
            ):
                gaps.append(f"{label} leaves no home exercise for {muscle}")
    return gaps

"""The exercise catalog and the training rules that build plans from it."""

from __future__ import annotations

import itertools
import random

import pytest

from fitsense_core import reference
from fitsense_core.programming import (
    Athlete,
    athlete_split,
    build_week,
    eligible_exercises,
    progress_week,
    rep_range_for,
)
from fitsense_core.reference import (
    BODY_REGION_TAGS,
    CONDITIONS,
    EQUIPMENT_BY_CODE,
    MUSCLES,
    CatalogError,
    blocked_tags,
    catalog_coverage_gaps,
    exercise_catalog,
)


def test_catalog_has_enough_real_exercises_with_unique_names() -> None:
    catalog = exercise_catalog()
    assert len(catalog) >= 120
    assert len({e.slug for e in catalog}) == len(catalog)
    assert len({e.name for e in catalog}) == len(catalog)
    assert {e.primary_muscle for e in catalog} == set(MUSCLES)
    names = {e.name for e in catalog}
    for well_known in ("Barbell Back Squat", "Push-Up", "Plank", "Conventional Deadlift"):
        assert any(well_known.lower() in n.lower() for n in names), well_known


def test_every_restriction_leaves_a_home_option_for_each_major_muscle() -> None:
    restrictions = {c.code: set(c.contraindication_tags) for c in CONDITIONS}
    restrictions |= {r: set(t) for r, t in BODY_REGION_TAGS.items()}
    assert catalog_coverage_gaps(restrictions) == []


def test_coverage_check_reports_a_missing_muscle() -> None:
    without_chest = tuple(
        e
        for e in exercise_catalog()
        if not (e.primary_muscle == "chest" and "shoulder_loading" not in e.contraindication_tags)
    )
    gaps = catalog_coverage_gaps({"shoulder": {"shoulder_loading"}}, without_chest)
    assert gaps == ["shoulder leaves no home exercise for chest"]


def test_bad_catalog_row_is_rejected_with_line_number() -> None:
    row = {
        "slug": "x",
        "name": "X",
        "primary_muscle": "tail",
        "movement_pattern": "squat",
        "category": "compound",
        "equipment": "hoverboard",
        "contraindication_tags": "",
        "is_timed": "false",
        "load_factor": "0.5",
        "min_experience": "beginner",
    }
    with pytest.raises(
        CatalogError, match=r"line 7 .*primary_muscle 'tail'.*equipment 'hoverboard'"
    ):
        reference._parse_row(7, row)


def test_blocked_tags_combine_conditions_and_injuries() -> None:
    tags = blocked_tags(["pregnancy"], ["knee"])
    assert {"supine", "valsalva", "knee_loading", "high_impact"} <= tags
    assert blocked_tags([], []) == frozenset()


KITS = {
    "none": frozenset(),
    "dumbbells": frozenset({"dumbbell", "bench", "resistance_band"}),
    "gym": frozenset(EQUIPMENT_BY_CODE),
}
RESTRICTIONS = {
    "none": frozenset(),
    "knee": frozenset(BODY_REGION_TAGS["knee"]),
    "back": frozenset(BODY_REGION_TAGS["lower_back"]),
    "pregnancy": frozenset(reference.CONDITIONS_BY_CODE["pregnancy"].contraindication_tags),
    "shoulder+wrist": frozenset(BODY_REGION_TAGS["shoulder"] + BODY_REGION_TAGS["wrist"]),
}


@pytest.mark.parametrize(
    ("goal", "experience", "days", "kit", "restriction"),
    list(
        itertools.product(
            ["fat_loss", "muscle_gain", "strength", "endurance", "general_fitness"],
            ["beginner", "intermediate", "advanced"],
            [1, 3, 4, 5, 6, 7],
            list(KITS),
            list(RESTRICTIONS),
        )
    )[::7],
)
def test_week_respects_person(
    goal: str, experience: str, days: int, kit: str, restriction: str
) -> None:
    athlete = Athlete(goal, experience, days, 45, KITS[kit], RESTRICTIONS[restriction])
    week = build_week(athlete, random.Random(1))
    assert [d.day_order for d in week] == list(range(1, 8))
    training = [d for d in week if not d.is_rest]
    assert len(training) == days
    for day in week:
        if day.is_rest:
            assert day.name.startswith(("REST_", "RECOVERY_"))
            continue
        assert 1 <= len(day.exercises) <= 12
        assert [pe.position for pe in day.exercises] == list(range(1, len(day.exercises) + 1))
        assert len({pe.exercise.slug for pe in day.exercises}) == len(day.exercises)
        for pe in day.exercises:
            assert not set(pe.exercise.contraindication_tags) & RESTRICTIONS[restriction]
            assert set(pe.exercise.equipment) <= KITS[kit]
            s = pe.scheme
            assert 1 <= s.sets <= 10 and 1 <= s.reps <= 30 and 0 <= s.rir <= 5
            assert 0 <= s.rest_seconds <= 600
            if pe.notes is None:
                lo, hi = rep_range_for(goal, pe.exercise)
                assert lo <= s.reps <= hi
            else:
                assert s.reps == 1  # timed work carries its duration in the notes


def test_goals_shape_the_prescription() -> None:
    kit = KITS["gym"]
    strength = build_week(
        Athlete("strength", "intermediate", 4, 60, kit, frozenset()), random.Random(3)
    )
    endurance = build_week(
        Athlete("endurance", "intermediate", 4, 60, kit, frozenset()), random.Random(3)
    )

    def main_lift(week):
        return next(pe for d in week for pe in d.exercises if pe.notes is None)

    assert main_lift(strength).scheme.reps < main_lift(endurance).scheme.reps
    assert main_lift(strength).scheme.rest_seconds > main_lift(endurance).scheme.rest_seconds


def test_no_straining_for_blood_pressure_restriction() -> None:
    athlete = Athlete("strength", "advanced", 4, 60, KITS["gym"], frozenset({"valsalva"}))
    for day in build_week(athlete, random.Random(5)):
        for pe in day.exercises:
            if pe.notes is None:
                assert pe.scheme.rir >= 3 and pe.scheme.reps >= 8


def test_split_asks_only_for_work_the_person_has() -> None:
    # Bodyweight only with a shoulder injury: no pressing exercise at all and two pulling
    # ones, each allowed on two days. A six-day push/pull/legs week would name two PUSH and
    # two PULL days for four day-places of pulling work: days of filler.
    athlete = Athlete(
        "strength", "intermediate", 6, 60, KITS["none"], RESTRICTIONS["shoulder+wrist"]
    )
    assert athlete_split(athlete) == ("UPPER", "PULL", "LEGS", "LOWER", "LOWER", "LEGS")
    # With the whole gym the split is the textbook one.
    roomy = Athlete("strength", "intermediate", 6, 60, KITS["gym"], frozenset())
    assert athlete_split(roomy) == ("PUSH", "PULL", "LEGS", "PUSH", "PULL", "LEGS")


def test_beginners_do_not_get_advanced_exercises() -> None:
    athlete = Athlete("strength", "beginner", 3, 60, KITS["gym"], frozenset())
    assert all(e.min_experience == "beginner" for e in eligible_exercises(athlete))


def test_progression_adds_volume_or_effort_without_leaving_ranges() -> None:
    athlete = Athlete("muscle_gain", "intermediate", 4, 60, KITS["gym"], frozenset())
    week = build_week(athlete, random.Random(9))
    nxt = progress_week(week, "intermediate")
    before = sum(pe.scheme.sets * 10 - pe.scheme.rir for d in week for pe in d.exercises)
    after = sum(pe.scheme.sets * 10 - pe.scheme.rir for d in nxt for pe in d.exercises)
    assert after > before
    assert all(pe.scheme.sets <= 5 for d in nxt for pe in d.exercises)


def test_no_dips_where_overhead_is_ruled_out_and_cardio_is_steady() -> None:
    """Read through the API: a lifter with shoulder impingement got Bench Dips on both
    upper days, and fat-loss plans prescribed 20 minutes of jumping jacks 'at a
    conversational pace'."""
    impinged = Athlete(
        goal="strength",
        experience="advanced",
        days_per_week=4,
        session_length_min=60,
        equipment=frozenset({"barbell", "bench", "squat_rack", "dumbbell", "dip_station"}),
        blocked_tags=blocked_tags(["shoulder_impingement"], []),
    )
    assert "overhead" in impinged.blocked_tags
    slugs = {e.slug for e in eligible_exercises(impinged)}
    assert not slugs & {"bench_dip", "chest_dip", "triceps_dip"}
    planned = {pe.exercise.slug for d in build_week(impinged) for pe in d.exercises}
    assert not any("dip" in s for s in planned), planned
    # Nothing ruled out overhead: dips stay available.
    free = Athlete("strength", "advanced", 4, 60, impinged.equipment, frozenset())
    assert "bench_dip" in {e.slug for e in eligible_exercises(free)}
    for kit in (frozenset(), frozenset({"dumbbell", "kettlebell", "jump_rope"})):
        cutting = Athlete("fat_loss", "intermediate", 4, 45, kit, frozenset())
        cardio = {
            pe.exercise.slug
            for d in build_week(cutting)
            for pe in d.exercises
            if pe.exercise.category == "cardio"
        }
        assert cardio and not cardio & {"jumping_jacks", "jump_rope", "shadow_boxing"}, cardio

"""Programming-quality checks: each planted fault is caught, and a coach's plan passes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fitsense_core.plan_contract import Plan
from fitsense_core.plan_quality import quality_problems, session_minutes
from fitsense_core.programming import Athlete

FULL_GYM = frozenset(
    [
        "barbell",
        "bench",
        "squat_rack",
        "dumbbell",
        "pull_up_bar",
        "cable_machine",
        "lat_pulldown_machine",
    ]
)
ATHLETE = Athlete(
    goal="muscle_gain",
    experience="intermediate",
    days_per_week=3,
    session_length_min=60,
    equipment=FULL_GYM,
    blocked_tags=frozenset(),
)


def exercise(name: str, position: int, sets: int = 3, reps: int = 10, rir: int = 2, rest=90):
    return {
        "exercise_name": name,
        "position": position,
        "sets": [
            {"set_number": i, "target_reps": reps, "target_rir": rir, "rest_seconds": rest}
            for i in range(1, sets + 1)
        ],
    }


def day(name: str, order: int, *names: str, **kwargs) -> dict:
    return {
        "name": name,
        "day_order": order,
        "exercises": [exercise(n, i, **kwargs) for i, n in enumerate(names, start=1)],
    }


def plan(*days: dict) -> Plan:
    return Plan.model_validate({"plan_name": "test", "days": list(days)})


PUSH = ("Barbell Bench Press", "Dumbbell Overhead Triceps Extension", "Push-Up")
PULL = ("Pull-Up", "Inverted Row", "Hammer Curl", "Lat Pulldown")
LEGS = ("Barbell Back Squat", "Goblet Squat", "Barbell Front Squat", "Fire Hydrant")


def sound_week() -> Plan:
    return plan(
        day("PUSH_1", 1, *PUSH, "Dumbbell Lateral Raise", sets=4),
        day("REST_1", 2),
        day("PULL_1", 3, *PULL, sets=4),
        day("REST_2", 4),
        day("LEGS_1", 5, "Barbell Back Squat", "Goblet Squat", "Fire Hydrant", sets=4),
        day("REST_3", 6),
        day("REST_4", 7),
    )


def codes(p: Plan, athlete: Athlete = ATHLETE) -> set[str]:
    return {q.code for q in quality_problems(p, athlete)}


def test_a_sound_push_pull_legs_week_passes() -> None:
    assert quality_problems(sound_week(), ATHLETE) == []


def test_the_hammer_curl_week_is_refused() -> None:
    """The promoted student's plan that started this: PULL and LEGS days of one curl."""
    curls = ("Hammer Curl", "Hammer Curl", "Hammer Curl")
    bad = plan(
        day("PUSH_1", 1, *PUSH),
        day("PULL_1", 3, *curls, sets=2),
        day("LEGS_1", 5, *curls, sets=2),
    )
    problems = quality_problems(bad, ATHLETE)
    found = {(q.code, q.path) for q in problems}
    assert ("duplicate_in_day", "PULL_1") in found and ("duplicate_in_day", "LEGS_1") in found
    assert ("label_mismatch", "LEGS_1") in found
    three_days = plan(*(day(f"FULL_BODY_{i}", i, *LEGS[:2], "Hammer Curl") for i in (1, 3, 5)))
    assert "repeated_in_week" in codes(three_days)


@pytest.mark.parametrize(
    ("label", "names"),
    [
        ("PUSH", ("Inverted Row", "Barbell Front Squat", "Dumbbell Overhead Triceps Extension")),
        ("PULL", ("Goblet Squat", "Barbell Back Squat", "Fire Hydrant")),
        ("LEGS", ("Barbell Bench Press", "Pull-Up", "Hammer Curl")),
        ("UPPER", ("Barbell Bench Press", "Push-Up", "Dumbbell Lateral Raise")),
        ("FULL_BODY", ("Barbell Bench Press", "Pull-Up", "Hammer Curl")),
    ],
)
def test_a_day_whose_content_does_not_fit_its_label_is_refused(label, names) -> None:
    bad = plan(day(f"{label}_1", 1, *names), day("REST_1", 2))
    assert "label_mismatch" in codes(bad)


def test_a_session_longer_than_the_person_has_is_refused() -> None:
    long_day = plan(day("PUSH_1", 1, *PUSH, "Dumbbell Lateral Raise", sets=6, rest=180))
    assert session_minutes(long_day.days[0]) > 60
    assert "too_long" in codes(long_day)
    assert "too_long" not in codes(long_day, replace(ATHLETE, session_length_min=90))


def test_a_token_session_is_refused() -> None:
    token = plan(day("FULL_BODY_1", 1, "Barbell Back Squat", sets=2))
    assert "too_short" in codes(token)


def test_weekly_volume_and_push_pull_balance() -> None:
    pushing = plan(
        day("PUSH_1", 1, *PUSH, sets=5),
        day("PUSH_2", 2, "Barbell Bench Press", "Dumbbell Lateral Raise", "Push-Up", sets=5),
        day("PULL_1", 4, "Pull-Up", "Hammer Curl", sets=2),
    )
    assert "push_pull_imbalance" in codes(pushing)
    beginner = replace(ATHLETE, experience="beginner")
    assert "volume_high" in codes(pushing, beginner)  # 20 chest sets for a novice
    lopsided = plan(
        day("UPPER_1", 1, "Barbell Bench Press", "Pull-Up", sets=3),
        day("UPPER_2", 3, "Push-Up", "Inverted Row", sets=3),
    )
    assert "volume_low" in codes(lopsided)  # legs, shoulders untouched


def test_prescriptions_must_fit_the_goal_and_the_lift() -> None:
    to_failure = plan(
        day("LEGS_1", 1, "Barbell Back Squat", "Goblet Squat", "Fire Hydrant", rir=0),
        day("REST_1", 2),
    )
    problems = [str(q) for q in quality_problems(to_failure, ATHLETE)]
    assert any("Barbell Back Squat: RIR 0" in p for p in problems)
    assert not any("Fire Hydrant" in p for p in problems)  # isolation may go to failure
    short_rest = plan(day("LEGS_1", 1, *LEGS[:2], "Fire Hydrant", reps=5, rest=45))
    assert "prescription" in codes(short_rest, replace(ATHLETE, goal="strength"))


def test_an_update_must_go_the_way_the_person_asked() -> None:
    from fitsense_core.plan_quality import update_problems

    before = sound_week()
    assert [q.code for q in update_problems(before, before, ("too_easy",))] == ["update_unchanged"]
    assert update_problems(before, before, ()) == []  # no intent: nothing to hold it to
    easier = plan(
        day("PUSH_1", 1, *PUSH, sets=2, rir=3),
        day("PULL_1", 3, *PULL[:3], sets=2, rir=3),
        day("LEGS_1", 5, *LEGS[:3], sets=2, rir=3),
    )
    assert {q.code for q in update_problems(before, easier, ("too_easy",))} == {"update_direction"}
    assert update_problems(before, easier, ("poor_recovery",)) == []
    assert update_problems(before, easier, ("too_easy",), conservative=True) == []
    longer = plan(*(day(d.name, d.day_order, *PUSH, sets=6) for d in before.training_days()))
    codes_ = {q.code for q in update_problems(before, longer, ("less_time",))}
    assert "update_direction" in codes_
    assert update_problems(before, easier, ("less_time",), 45) == []
    assert update_problems(before, easier, ("less_time",), 5)  # still longer than 5 min


def test_no_straining_for_someone_whose_blood_pressure_rules_it_out() -> None:
    """Planted: near-failure and heavy sets for a person with hypertension (valsalva
    restricted); the same week at 10 reps and RIR 3 passes."""
    hypertensive = replace(ATHLETE, blocked_tags=frozenset({"valsalva"}))
    close = plan(day("LEGS_1", 1, "Goblet Squat", "Fire Hydrant", reps=10, rir=1))
    assert any("RIR 1" in str(q) for q in quality_problems(close, hypertensive))
    heavy = plan(day("LEGS_1", 1, "Goblet Squat", "Fire Hydrant", reps=5, rir=3, rest=120))
    assert any("5 reps" in str(q) for q in quality_problems(heavy, hypertensive))
    moderate = plan(day("LEGS_1", 1, "Goblet Squat", "Fire Hydrant", reps=10, rir=3))
    assert "prescription" not in codes(moderate, hypertensive)


def test_an_injury_swap_gives_the_replacement_reps_for_the_goal() -> None:
    """A jump swapped out for a hip injury keeps neither its low reps nor a contract
    violation: the replacement's reps move into the goal's range (found serving an
    endurance plan, where Tuck Jump 3x8 became Bodyweight Squat 3x8 and the contract
    refused the knowledge-based coach's own plan)."""
    from fitsense_core.inference import serve
    from fitsense_core.plan_contract import validate_plan
    from fitsense_core.profile import UserProfile
    from fitsense_core.safety import triage
    from fitsense_core.student.data import live_task

    profile = UserProfile(
        user_id="swap",
        age=40,
        sex="female",
        height_cm=168.0,
        activity_level="moderate",
        goals=("endurance",),
        experience="intermediate",
        days_per_week=1,
        session_length_min=60,
        equipment=frozenset({"dumbbell"}),
    )
    current = Plan.model_validate(
        {
            "plan_name": "mine",
            "days": [
                {
                    "name": "LEGS_1",
                    "day_order": 1,
                    "exercises": [
                        exercise("Tuck Jump", 1, reps=8, rir=3),
                        exercise("Goblet Squat", 2, reps=15, rir=3),
                        exercise("Dumbbell Step-Up", 3, reps=15, rir=3),
                    ],
                }
            ],
        }
    )
    request = "My hip has been bothering me, please work around it."
    task = live_task("swap", "plan_update", request, profile, current, ())
    verdict = triage(request, profile)
    served = serve.serve_plan(task, verdict, None)
    names = [e.exercise_name for d in served.plan.days for e in d.exercises]
    assert "Tuck Jump" not in names
    assert validate_plan(served.plan, task.athlete).valid

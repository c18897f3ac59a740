"""The knowledge-based coach's answers: topic routing, grounding in the person's data, safety."""

from __future__ import annotations

import re

import pytest

from fitsense_core.coach.answers import answer_question
from fitsense_core.coach.answers.nutrition import protein_per_kg
from fitsense_core.coach.knowledge import DOUBLE_PROGRESSION_REPS, UNDULATING_REPS
from fitsense_core.coach.topics import classify_topic, exercise_mentioned_in, topic_evidence
from fitsense_core.profile import Injury, RecentSignals, UserProfile
from fitsense_core.programming import GOAL_REP_RANGES, eligible_exercises, safe_alternative
from fitsense_core.reference import Exercise, exercise_catalog, exercises_by_slug
from fitsense_core.replies import COACHING_TOPICS, CoachReply
from fitsense_core.request_space import COACHING_CORES as QUESTION_BANK
from fitsense_core.safety import (
    CLEARANCE_NOTE,
    EMERGENCY_MESSAGE,
    SafetyLevel,
    Triage,
    check_response,
    triage,
)

FULL_GYM = frozenset(
    {
        "barbell",
        "dumbbell",
        "bench",
        "squat_rack",
        "pull_up_bar",
        "cable_machine",
        "lat_pulldown_machine",
        "leg_press_machine",
        "kettlebell",
        "resistance_band",
    }
)
HOME = frozenset({"dumbbell", "resistance_band"})
ALL_QUESTIONS = [(topic, q) for topic, qs in QUESTION_BANK.items() for q in qs]


def make_profile(**overrides: object) -> UserProfile:
    fields: dict[str, object] = {
        "user_id": "u-inter",
        "age": 34,
        "sex": "M",
        "height_cm": 180.0,
        "activity_level": "moderately_active",
        "goals": ("muscle_gain",),
        "experience": "intermediate",
        "days_per_week": 4,
        "session_length_min": 60,
        "equipment": FULL_GYM,
        "weight_kg": 82.0,
        "signals": RecentSignals(
            sleep_hours=6.4,
            sleep_target_hours=8.0,
            calories=2450,
            calorie_target=2900,
            weight_trend_kg_per_week=0.05,
            soreness=4.2,
            energy=6.1,
            sessions_per_week=3.1,
        ),
    }
    fields.update(overrides)
    return UserProfile(**fields)  # type: ignore[arg-type]


PROFILES = {
    "intermediate_gym": make_profile(),
    "beginner_home_fat_loss": make_profile(
        user_id="u-home",
        age=52,
        sex="F",
        height_cm=163.0,
        activity_level="sedentary",
        goals=("fat_loss",),
        experience="beginner",
        days_per_week=3,
        equipment=HOME,
        weight_kg=88.0,
        allergies=("peanuts", "lactose"),
        signals=RecentSignals(
            sleep_hours=7.6,
            sleep_target_hours=7.5,
            calories=1900,
            weight_trend_kg_per_week=-0.1,
            soreness=7.5,
            energy=3.0,
            sessions_per_week=1.4,
        ),
    ),
    "advanced_knee_hypertension": make_profile(
        user_id="u-knee",
        experience="advanced",
        goals=("strength",),
        days_per_week=5,
        injuries=(Injury("injury", "knee", "active", "torn meniscus"),),
        conditions=(("hypertension", "mild"),),
        signals=RecentSignals(),
    ),
    "bodyweight_no_logs": make_profile(
        user_id="u-bw",
        sex="other",
        goals=("endurance",),
        experience="beginner",
        equipment=frozenset(),
        weight_kg=None,
        signals=RecentSignals(sleep_hours=5.2),
    ),
    "shoulder_impingement": make_profile(
        user_id="u-shoulder",
        goals=("general_fitness",),
        conditions=(("shoulder_impingement", "moderate"),),
    ),
}


def make_triage(
    level: SafetyLevel, profile: UserProfile, message: str | None = None, rules: tuple = ()
) -> Triage:
    return Triage(
        level=level,
        reasons=(),
        rules=rules,
        message=message,
        blocked_tags=profile.blocked_tags,
    )


def mentioned_exercises(text: str) -> list[Exercise]:
    """Catalog exercises named in a text; longer names first so 'Knee Push-Up' is not also
    read as 'Push-Up'."""
    found = []
    for exercise in sorted(exercise_catalog(), key=lambda e: -len(e.name)):
        if exercise.name in text:
            found.append(exercise)
            text = text.replace(exercise.name, "#")
    return found


def kcal_figures(text: str) -> list[int]:
    """Every calorie figure, both ends of ranges such as '2260-2460 kcal' included."""
    pairs = re.findall(r"(\d{3,5})(?:-(\d{3,5}))? kcal", text)
    return [int(n) for pair in pairs for n in pair if n]


def mifflin_st_jeor(weight: float, height: float, age: int, sex: str, factor: float) -> float:
    sex_term = {"M": 5.0, "F": -161.0}[sex]
    return (10 * weight + 6.25 * height - 5 * age + sex_term) * factor


def test_question_bank_has_at_least_twelve_distinct_questions_per_topic() -> None:
    assert set(QUESTION_BANK) == set(COACHING_TOPICS)
    for topic, questions in QUESTION_BANK.items():
        assert len(questions) >= 12, topic
        assert len(set(questions)) == len(questions), topic


def test_classify_topic_is_accurate_on_the_whole_bank() -> None:
    wrong = [(t, q, classify_topic(q)) for t, q in ALL_QUESTIONS if classify_topic(q) != t]
    accuracy = 1 - len(wrong) / len(ALL_QUESTIONS)
    assert accuracy >= 0.9, wrong


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What should my daily calorie intake be?", "nutrition"),
        ("Any tips for a better night's sleep?", "sleep"),
        ("My quads are really sore, should I rest today?", "recovery"),
        ("When do I move up in weight on squats?", "progression"),
        ("How should I breathe during a deadlift?", "technique"),
        ("Is whey or a vegan protein better for me?", "nutrition"),
    ],
)
def test_classify_topic_routes_questions_outside_the_bank(question: str, topic: str) -> None:
    assert classify_topic(question) == topic


def test_topic_evidence_explains_the_classification() -> None:
    evidence = topic_evidence("Do naps help with recovery after squats?")
    assert "naps" in evidence["sleep"]
    assert "recovery" in evidence["recovery"]
    assert "Barbell Back Squat" in evidence["technique"]
    assert evidence["nutrition"] == []


def test_every_technique_question_names_a_catalog_exercise() -> None:
    for question in QUESTION_BANK["technique"]:
        assert exercise_mentioned_in(question) is not None, question


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("How low should my squats go?", "barbell_back_squat"),
        ("dumbbell bench press form", "dumbbell_bench_press"),
        ("I can't do pullups yet", "pull_up"),
        ("romanian deadlift cues", "barbell_romanian_deadlift"),
        ("are knee push-ups ok?", "knee_push_up"),
        ("leg curls or RDLs for hamstrings?", "seated_leg_curl"),
        ("How much sleep do I need?", None),
    ],
)
def test_exercise_mentioned_in_matches_names_aliases_and_plurals(
    text: str, slug: str | None
) -> None:
    found = exercise_mentioned_in(text)
    assert (found.slug if found else None) == slug


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize(
    "level", [SafetyLevel.OK, SafetyLevel.INJURY_AWARE, SafetyLevel.NEEDS_CLEARANCE]
)
def test_every_bank_answer_is_a_valid_reply_of_the_right_size(
    name: str, level: SafetyLevel
) -> None:
    profile = PROFILES[name]
    decision = make_triage(level, profile)
    for topic, question in ALL_QUESTIONS:
        reply = answer_question(question, profile, decision, topic)
        CoachReply.model_validate(reply.model_dump())
        assert 300 <= len(reply.answer) <= 1500, (topic, question, len(reply.answer))
        assert 2 <= len(reply.key_points) <= 5, (topic, question, reply.key_points)
        assert not reply.refer_to_emergency
        assert reply.needs_medical_clearance == (level == SafetyLevel.NEEDS_CLEARANCE)
        for match in re.finditer(r"(\w+ )train through pain", reply.answer):
            assert match.group(1) == "never ", reply.answer


def test_sleep_answer_states_the_persons_average_and_target() -> None:
    profile = PROFILES["intermediate_gym"]
    reply = answer_question(
        "Is six hours enough?", profile, make_triage(SafetyLevel.OK, profile), "sleep"
    )
    assert "6.4 h" in reply.answer
    assert "8 h target" in reply.answer
    other = make_profile(signals=RecentSignals(sleep_hours=7.2, sleep_target_hours=7.5))
    reply = answer_question(
        "Is six hours enough?", other, make_triage(SafetyLevel.OK, other), "sleep"
    )
    assert "7.2 h" in reply.answer and "7.5 h" in reply.answer
    assert "6.4 h" not in reply.answer


def test_sleep_answer_without_logs_asks_for_them_and_gives_an_age_range() -> None:
    profile = make_profile(signals=RecentSignals())
    reply = answer_question(
        "How much sleep?", profile, make_triage(SafetyLevel.OK, profile), "sleep"
    )
    assert "haven't logged sleep" in reply.answer
    assert "7-9 h" in reply.answer


def test_nutrition_answer_estimates_maintenance_and_protein_for_the_person() -> None:
    profile = PROFILES["intermediate_gym"]
    reply = answer_question(
        "How many calories should I eat?", profile, make_triage(SafetyLevel.OK, profile)
    )
    maintenance = mifflin_st_jeor(82.0, 180.0, 34, "M", 1.55)
    figures = kcal_figures(reply.answer)
    assert any(abs(f - maintenance) <= 15 for f in figures), (maintenance, figures)
    # Muscle gain: a 200-300 kcal surplus over maintenance.
    assert any(180 <= f - maintenance <= 320 for f in figures), figures
    grams = re.search(r"(\d+)-(\d+) g a day", reply.answer)
    assert grams is not None
    low, high = protein_per_kg()  # the knowledge base's figure
    assert abs(int(grams.group(1)) - low * 82) <= 5
    assert abs(int(grams.group(2)) - high * 82) <= 5
    assert "2450 kcal" in reply.answer  # the logged intake
    assert "2900 kcal" in reply.answer  # the app's calorie target


def test_fat_loss_answer_sets_a_deficit_and_judges_the_weight_trend() -> None:
    profile = make_profile(
        goals=("fat_loss",),
        signals=RecentSignals(weight_trend_kg_per_week=-0.1, calories=2600),
    )
    reply = answer_question(
        "How many calories should I eat to lose fat?", profile, make_triage(SafetyLevel.OK, profile)
    )
    maintenance = mifflin_st_jeor(82.0, 180.0, 34, "M", 1.55)
    deficits = [maintenance - f for f in kcal_figures(reply.answer)]
    assert any(280 <= d <= 320 for d in deficits) and any(480 <= d <= 520 for d in deficits)
    assert "-0.10 kg/week" in reply.answer
    assert "trim" in reply.answer  # losing slower than 0.5% of body weight a week


def test_nutrition_suggestions_respect_allergies() -> None:
    allergic = make_profile(allergies=("peanuts", "lactose"))
    not_allergic = make_profile()
    questions = {
        "snacks": "What are good high-protein snacks?",
        "powder": "Do I need protein powder?",
        "breakfast": "What's a good breakfast before training?",
    }
    forbidden = ("peanut butter", "whey", "yogurt", "milk", "cottage cheese")
    for question in questions.values():
        reply = answer_question(question, allergic, make_triage(SafetyLevel.OK, allergic))
        for food in forbidden:
            assert food not in reply.answer.lower().replace("no whey", ""), (question, food)
        assert "allergies" in reply.answer
    # The same questions do suggest those foods to someone without allergies.
    snacks = answer_question(
        questions["snacks"], not_allergic, make_triage(SafetyLevel.OK, not_allergic)
    )
    powder = answer_question(
        questions["powder"], not_allergic, make_triage(SafetyLevel.OK, not_allergic)
    )
    assert "peanut butter" in snacks.answer
    assert "whey" in powder.answer.lower()


@pytest.mark.parametrize(
    ("question", "forbidden"),
    [
        ("veggie here, how do i get enough protein", ("chicken", "beef", "tuna", "turkey")),
        ("I'm vegetarian, what should I eat to build muscle?", ("chicken", "beef", "tuna")),
        ("soy vegetariana, ¿cómo consigo proteína?", ("chicken", "beef", "tuna")),
        ("I'm vegan, do I need protein powder?", ("chicken", "yogurt", "eggs", "whey")),
        ("plant-based lifter, best protein foods?", ("chicken", "beef", "yogurt", "eggs")),
    ],
)
def test_foods_named_follow_the_diet_the_question_states(
    question: str, forbidden: tuple[str, ...]
) -> None:
    person = make_profile()
    reply = answer_question(question, person, make_triage(SafetyLevel.OK, person))
    text = reply.answer.lower()
    for food in forbidden:
        assert not re.search(rf"\b{food}", text.replace("no whey", "")), (food, reply.answer)
    # Someone who says nothing of their diet is offered them.
    plain = answer_question(
        "What foods are high in protein?", person, make_triage(SafetyLevel.OK, person)
    )
    assert "chicken" in plain.answer.lower()


@pytest.mark.parametrize("level", [SafetyLevel.OK, SafetyLevel.NEEDS_CLEARANCE])
def test_eating_disorder_profile_gets_no_calorie_numbers(level: SafetyLevel) -> None:
    profile = make_profile(goals=("fat_loss",), conditions=(("eating_disorder", "moderate"),))
    for question in QUESTION_BANK["nutrition"]:
        reply = answer_question(question, profile, make_triage(level, profile), "nutrition")
        assert "kcal" not in reply.answer, question
        assert not re.search(r"\d+\s*(calories|kcal)", reply.answer), question
        assert "deficit" not in reply.answer


def test_eating_disorder_signal_in_the_question_also_removes_calorie_numbers() -> None:
    profile = make_profile()
    question = "I've been throwing up after eating, how many calories should I eat?"
    reply = answer_question(question, profile, triage(question, profile))
    assert reply.needs_medical_clearance
    assert "kcal" not in reply.answer
    plain = "How many calories should I eat?"
    assert "kcal" in answer_question(plain, profile, triage(plain, profile)).answer


@pytest.mark.parametrize(
    "profile",
    [
        make_profile(sex="F", conditions=(("pregnancy", "mild"),)),
        make_profile(age=16, goals=("fat_loss",)),
    ],
    ids=["pregnancy", "minor"],
)
def test_pregnancy_and_minors_get_no_deficit_or_calorie_target(profile: UserProfile) -> None:
    reply = answer_question(
        "How many calories should I eat to lose fat?",
        profile,
        make_triage(SafetyLevel.NEEDS_CLEARANCE, profile),
    )
    assert kcal_figures(reply.answer) == []
    assert "creatine (3-5" not in reply.answer


@pytest.mark.parametrize(
    ("profile", "question", "asked"),
    [
        (
            make_profile(injuries=(Injury("injury", "knee", "active", "sprain"),)),
            "How deep should I go on a barbell back squat?",
            "barbell_back_squat",
        ),
        (
            PROFILES["shoulder_impingement"],
            "How do I brace my core during the overhead press?",
            "barbell_overhead_press",
        ),
        (
            make_profile(injuries=(Injury("injury", "lower_back", "recovering", "strain"),)),
            "What are the key cues for a conventional deadlift?",
            "conventional_deadlift",
        ),
        (
            make_profile(sex="F", equipment=HOME, conditions=(("carpal_tunnel", "mild"),)),
            "What's the correct form for a push-up?",
            "push_up",
        ),
    ],
    ids=["knee-squat", "shoulder-press", "back-deadlift", "wrist-push-up"],
)
def test_contraindicated_exercise_gets_a_safe_alternative(
    profile: UserProfile, question: str, asked: str
) -> None:
    decision = make_triage(SafetyLevel.INJURY_AWARE, profile)
    reply = answer_question(question, profile, decision)
    exercise = exercises_by_slug()[asked]
    assert set(exercise.contraindication_tags) & profile.blocked_tags
    assert "isn't a good fit" in reply.answer
    others = [e for e in mentioned_exercises(reply.answer) if e.slug != asked]
    assert others, reply.answer
    expected = safe_alternative(exercise, eligible_exercises(profile.athlete()))
    assert expected is not None and expected in others
    for alternative in others:
        assert not set(alternative.contraindication_tags) & profile.blocked_tags, alternative
        assert set(alternative.equipment) <= profile.equipment, alternative
    assert "Working around your" in reply.answer


def test_an_overhead_press_ruled_out_by_a_shoulder_is_never_swapped_for_a_dip() -> None:
    # Dips load the shoulder at the end of its range: the catalog's closest vertical push
    # for a bench-only lifter with impingement used to be the Bench Dip.
    catalog = exercises_by_slug()
    pool = [
        e
        for e in exercise_catalog()
        if "overhead" not in e.contraindication_tags
        and set(e.equipment) <= FULL_GYM | {"dip_station"}
    ]
    for slug in ("barbell_overhead_press", "seated_dumbbell_shoulder_press", "pike_push_up"):
        alternative = safe_alternative(catalog[slug], pool)
        assert alternative is not None and "dip" not in alternative.slug, (slug, alternative)
    # A dip still stands in for a dip-like push where nothing overhead is ruled out.
    assert safe_alternative(catalog["chest_dip"], pool).slug.endswith("dip")


def test_safe_exercise_gets_its_own_cues_and_the_persons_prescription() -> None:
    profile = PROFILES["intermediate_gym"]
    reply = answer_question(
        "How do I keep my knees from caving in on the goblet squat?",
        profile,
        make_triage(SafetyLevel.OK, profile),
    )
    assert "Key cues for the Goblet Squat" in reply.answer
    assert "Knees caving" in reply.answer
    assert "4 sets of 8 at RIR 2" in reply.answer  # muscle gain, intermediate, main lift
    assert "isn't a good fit" not in reply.answer


def test_no_answer_recommends_an_exercise_the_person_must_avoid() -> None:
    for name in ("advanced_knee_hypertension", "shoulder_impingement"):
        profile = PROFILES[name]
        decision = make_triage(SafetyLevel.INJURY_AWARE, profile)
        for topic, question in ALL_QUESTIONS:
            reply = answer_question(question, profile, decision, topic)
            asked = exercise_mentioned_in(question)
            for exercise in mentioned_exercises(reply.answer):
                if asked is not None and exercise.slug == asked.slug:
                    continue
                assert not set(exercise.contraindication_tags) & profile.blocked_tags, (
                    name,
                    question,
                    exercise.name,
                )


@pytest.mark.parametrize("topic", COACHING_TOPICS)
@pytest.mark.parametrize("message", ["Call 911 now: chest pain can be a heart attack.", None])
def test_emergency_returns_only_the_urgent_care_message(topic: str, message: str | None) -> None:
    profile = PROFILES["intermediate_gym"]
    decision = make_triage(SafetyLevel.EMERGENCY, profile, message=message)
    reply = answer_question(QUESTION_BANK[topic][0], profile, decision, topic)
    assert reply.answer == (message or EMERGENCY_MESSAGE)
    assert reply.refer_to_emergency
    assert reply.key_points == []


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_answers_pass_the_safety_policys_response_check(name: str) -> None:
    profile = PROFILES[name]
    for topic, question in ALL_QUESTIONS:
        decision = triage(question, profile)
        reply = answer_question(question, profile, decision, topic)
        assert check_response(decision, reply.answer, contains_plan=False) == [], question


@pytest.mark.parametrize(
    ("question", "level"),
    [
        ("I have chest pain during my workout, should I keep going?", SafetyLevel.EMERGENCY),
        ("I'm pregnant, how much protein do I need?", SafetyLevel.NEEDS_CLEARANCE),
        ("I'm 15, how many calories should I eat to lose fat?", SafetyLevel.NEEDS_CLEARANCE),
        ("My knee hurts when I squat, how do I fix my form?", SafetyLevel.INJURY_AWARE),
    ],
)
def test_real_triage_outcomes_shape_the_answer(question: str, level: SafetyLevel) -> None:
    profile = PROFILES["intermediate_gym"]
    decision = triage(question, profile)
    assert decision.level == level
    reply = answer_question(question, profile, decision)
    assert check_response(decision, reply.answer, contains_plan=False) == []
    if level == SafetyLevel.EMERGENCY:
        assert reply.refer_to_emergency and reply.answer == decision.message
    elif level == SafetyLevel.NEEDS_CLEARANCE:
        assert reply.needs_medical_clearance
        assert kcal_figures(reply.answer) == []
    else:
        assert "Barbell Back Squat isn't a good fit" in reply.answer
        for exercise in mentioned_exercises(reply.answer):
            if exercise.slug != "barbell_back_squat":
                assert not set(exercise.contraindication_tags) & decision.blocked_tags


@pytest.mark.parametrize("topic", COACHING_TOPICS)
def test_needs_clearance_is_conservative_and_sends_to_a_doctor(topic: str) -> None:
    profile = make_profile(conditions=(("recent_surgery", "moderate"),))
    reply = answer_question(
        QUESTION_BANK[topic][0], profile, make_triage(SafetyLevel.NEEDS_CLEARANCE, profile), topic
    )
    assert reply.needs_medical_clearance
    assert CLEARANCE_NOTE in reply.answer
    assert "doctor" in reply.answer.lower()
    assert any("doctor" in point.lower() for point in reply.key_points)


def test_needs_clearance_progression_holds_loads() -> None:
    profile = make_profile(conditions=(("recent_surgery", "moderate"),))
    question = "How do I know when to add weight to my lifts?"
    normal = answer_question(question, profile, make_triage(SafetyLevel.OK, profile))
    careful = answer_question(question, profile, make_triage(SafetyLevel.NEEDS_CLEARANCE, profile))
    assert "add 2.5 kg" in normal.answer
    assert "add 2.5 kg" not in careful.answer
    assert "no weight increases" in careful.answer
    assert "RIR 3-4" in careful.answer


@pytest.mark.parametrize(
    ("experience", "phrases"),
    [
        ("beginner", ("progress linearly", "add 2.5 kg")),
        ("intermediate", ("double progression", "8-12 rep band", "12 reps at RIR 2")),
        ("advanced", ("undulate", "deload week")),
    ],
)
def test_progression_answer_follows_experience(experience: str, phrases: tuple) -> None:
    profile = make_profile(experience=experience)
    reply = answer_question(
        "How do I know when to add weight to my lifts?",
        profile,
        make_triage(SafetyLevel.OK, profile),
    )
    for phrase in phrases:
        assert phrase in reply.answer, (experience, phrase)
    lo, hi = GOAL_REP_RANGES["muscle_gain"]
    assert f"{lo}-{hi} rep range" in reply.answer


def test_progression_answer_comments_on_consistency() -> None:
    steady = make_profile(signals=RecentSignals(sessions_per_week=4.0))
    patchy = make_profile(signals=RecentSignals(sessions_per_week=1.4))
    question = "How do I get stronger?"
    steady_reply = answer_question(
        question, steady, make_triage(SafetyLevel.OK, steady), "progression"
    )
    patchy_reply = answer_question(
        question, patchy, make_triage(SafetyLevel.OK, patchy), "progression"
    )
    assert "4 sessions a week against 4 planned" in steady_reply.answer
    assert "consistency is the bottleneck" not in steady_reply.answer
    assert "1.4 sessions a week against 4 planned" in patchy_reply.answer
    assert "consistency is the bottleneck" in patchy_reply.answer


def test_progression_keeps_straining_out_for_valsalva_restrictions() -> None:
    profile = PROFILES["advanced_knee_hypertension"]
    reply = answer_question(
        "What is progressive overload?", profile, make_triage(SafetyLevel.INJURY_AWARE, profile)
    )
    assert "never hold your breath" in reply.answer
    # Prescribed ranges ("8-10 reps"), not a margin ("beat your target by 1-2 reps").
    ranges = [(int(a), int(b)) for a, b in re.findall(r"(?<!by )(\d+)-(\d+) reps", reply.answer)]
    assert ranges and all(lo >= 8 for lo, _ in ranges)


def test_progression_rep_tables_stay_inside_the_goal_rep_ranges() -> None:
    for goal, (lo, hi) in GOAL_REP_RANGES.items():
        band_lo, band_hi = DOUBLE_PROGRESSION_REPS[goal]
        assert lo <= band_lo < band_hi <= hi, goal
        for day_lo, day_hi in UNDULATING_REPS[goal]:
            assert lo <= day_lo < day_hi <= hi, goal


def test_recovery_answer_reads_soreness_and_energy() -> None:
    tired = PROFILES["beginner_home_fat_loss"]
    fresh = PROFILES["intermediate_gym"]
    question = "I'm still sore two days after leg day, should I train anyway?"
    tired_reply = answer_question(question, tired, make_triage(SafetyLevel.OK, tired))
    fresh_reply = answer_question(question, fresh, make_triage(SafetyLevel.OK, fresh))
    assert "soreness 7.5/10" in tired_reply.answer and "energy 3/10" in tired_reply.answer
    assert "high fatigue" in tired_reply.answer
    assert "soreness 4.2/10" in fresh_reply.answer
    assert "normal range" in fresh_reply.answer
    # Active recovery only suggests what the person can do with their equipment.
    for exercise in mentioned_exercises(tired_reply.answer):
        assert set(exercise.equipment) <= tired.equipment


def test_answers_are_deterministic_and_specific_to_the_question() -> None:
    profile = PROFILES["intermediate_gym"]
    decision = make_triage(SafetyLevel.OK, profile)
    for _, question in ALL_QUESTIONS:
        assert answer_question(question, profile, decision) == answer_question(
            question, profile, decision
        )
    naps = answer_question("Do naps help with recovery?", profile, decision, "sleep")
    caffeine = answer_question("Does caffeine affect my sleep?", profile, decision, "sleep")
    assert "Naps help" in naps.answer and "Naps help" not in caffeine.answer
    assert "Caffeine lingers" in caffeine.answer


def test_unknown_topic_is_rejected() -> None:
    profile = PROFILES["intermediate_gym"]
    with pytest.raises(ValueError, match="unknown coaching topic"):
        answer_question("Hi", profile, make_triage(SafetyLevel.OK, profile), "astrology")

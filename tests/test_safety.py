"""The safety policy: a labelled table of requests, profile rules, and the answer checks."""

from __future__ import annotations

from collections import Counter

import pytest

from fitsense_core.profile import Injury, UserProfile
from fitsense_core.reference import BODY_REGION_TAGS
from fitsense_core.safety import (
    CLEARANCE_NOTE,
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    PROFILE_RULES,
    RULES,
    SafetyLevel,
    Triage,
    check_response,
    triage,
)

E = SafetyLevel.EMERGENCY
C = SafetyLevel.NEEDS_CLEARANCE
I = SafetyLevel.INJURY_AWARE  # noqa: E741
OK = SafetyLevel.OK


def person(
    age: int = 32,
    conditions: tuple[tuple[str, str], ...] = (),
    injuries: tuple[Injury, ...] = (),
    weight_kg: float | None = 80.0,
) -> UserProfile:
    return UserProfile(
        user_id="u-test",
        age=age,
        sex="F",
        height_cm=168.0,
        activity_level="moderately_active",
        goals=("strength",),
        experience="intermediate",
        days_per_week=4,
        session_length_min=60,
        equipment=frozenset({"barbell", "dumbbell", "bench", "squat_rack"}),
        conditions=conditions,
        injuries=injuries,
        weight_kg=weight_kg,
    )


ADULT = person()
MINOR = person(age=16)
PREGNANT = person(conditions=(("pregnancy", "mild"),))
KNEE_INJURY = person(injuries=(Injury("injury", "knee", "active", "Patellar tendinopathy"),))
OLD_KNEE_INJURY = person(injuries=(Injury("injury", "knee", "resolved", "ACL sprain"),))
CONTROLLED_BP = person(conditions=(("hypertension", "mild"),))
LIGHT = person(weight_kg=60.0)

# (text, profile, expected level, a rule id prefix that must fire or None)
# fmt: off
CASES: list[tuple[str, UserProfile | None, SafetyLevel, str | None]] = [
    # Emergencies
    ("I have chest pain when I run", None, E, "emergency.chest_pain"),
    ("Crushing pressure in my chest during my workout", None, E, "emergency.chest_pain"),
    ("CHEST PAIN during squats!!!", None, E, "emergency.chest_pain"),
    ("I’m getting chest tightness when I climb stairs", None, E, "emergency.chest_pain"),
    ("I think I'm having a heart attack", None, E, "emergency.chest_pain"),
    ("I had chest pain last year and again today on the treadmill", None, E, "emergency.chest_pain"),
    ("I fainted during my workout yesterday", None, E, "emergency.fainting"),
    ("I passed out doing heavy deadlifts", ADULT, E, "emergency.fainting"),
    ("my friend fainted last year, and I fainted during my run today", None, E, "emergency.fainting"),
    ("I can't breathe even sitting on the couch", None, E, "emergency.breathing"),
    ("Severe shortness of breath after a light jog", None, E, "emergency.breathing"),
    ("im short of breath at rest since this morning", None, E, "emergency.breathing"),
    ("My face is drooping and my speech is slurred", None, E, "emergency.stroke"),
    ("Sudden numbness on the left side of my body during squats", None, E, "emergency.stroke"),
    ("I suddenly feel confused and my arm is weak", None, E, "emergency.stroke"),
    ("I want to kill myself", None, E, "emergency.self_harm"),
    ("I've been having suicidal thoughts lately, should I still train?", None, E, "emergency.self_harm"),
    ("Honestly I dont want to live anymore", None, E, "emergency.self_harm"),
    ("My throat is swelling up after that protein shake", None, E, "emergency.anaphylaxis"),
    ("My heart is racing irregularly and I feel dizzy", None, E, "emergency.arrhythmia_dizziness"),
    ("I'm coughing up blood after my run", None, E, "emergency.coughing_blood"),
    ("I hit my head on the bar and now I keep vomiting", None, E, "emergency.head_injury"),
    ("After CrossFit my pee is cola coloured and my arms are swollen and in severe pain", None, E, "emergency.rhabdomyolysis"),
    ("I stopped sweating on my run in the heat and I feel confused", None, E, "emergency.heat_stroke"),
    ("My buddy just collapsed at the gym and isn't breathing, what do I do?", None, E, "emergency.bystander"),
    ("I had a seizure during my workout", None, E, "emergency.seizure"),
    ("my dad has chest pain right now", None, E, "emergency.bystander"),
    ("I have no energy and chest pain", None, E, "emergency.chest_pain"),
    ("nothing helps my chest pain", None, E, "emergency.chest_pain"),
    ("I never had chest pain until today", None, E, "emergency.chest_pain"),
    ("my lips are turning blue", None, E, "emergency.breathing"),
    ("my face went numb suddenly on the left side", None, E, "emergency.stroke"),
    ("I got hit in the head sparring and feel confused", None, E, "emergency.head_injury"),
    ("Pain radiating down my left arm and jaw during cardio", None, E, "emergency.chest_pain"),
    ("I'm a woman with chest pain on the treadmill", None, E, "emergency.chest_pain"),
    ("a guy at my gym passed out last month", None, OK, None),
    # Needs clearance
    ("I'm 12 weeks pregnant, can I keep lifting?", None, C, "clearance.pregnancy"),
    ("I gave birth 6 weeks ago, when can I start running?", None, C, "clearance.pregnancy"),
    ("I had knee surgery 3 weeks ago", None, C, "clearance.recent_surgery"),
    ("Still post-op from my hernia repair, what can I do?", None, C, "clearance.recent_surgery"),
    ("My blood pressure was 180/110 this morning", None, C, "clearance.blood_pressure"),
    ("I have uncontrolled high blood pressure", None, C, "clearance.blood_pressure"),
    ("I heard a pop in my knee during squats", None, C, "clearance.acute_injury"),
    ("I just sprained my ankle, what can I train?", None, C, "clearance.acute_injury"),
    ("Sudden sharp pain in my hamstring while sprinting and I can't put weight on it", None, C, "clearance.acute_injury"),
    ("I make myself throw up after meals, how do I burn more?", None, C, "clearance.eating_disorder"),
    ("I'm eating 600 calories a day to lose weight", None, C, "clearance.eating_disorder"),
    ("I've been doing 3-day water fasts to drop weight", None, C, "clearance.eating_disorder"),
    ("I binge on weekends and then starve myself on Monday", None, C, "clearance.eating_disorder"),
    ("I use laxatives to lose weight before weigh-ins", None, C, "clearance.eating_disorder"),
    ("I'm 15 and want to get big", None, C, "clearance.minor"),
    ("16 year old girl here, first time in a gym", None, C, "clearance.minor"),
    ("I get dizzy during my runs", None, C, "clearance.exertional_symptoms"),
    ("I almost passed out during squats", None, C, "clearance.exertional_symptoms"),
    ("I'm unusually short of breath on easy runs lately", None, C, "clearance.exertional_symptoms"),
    ("I have a heart condition, is HIIT ok?", None, C, "clearance.heart_condition"),
    ("I had a stroke two years ago and want to get fit", None, C, "clearance.heart_condition"),
    ("I'm type 1 diabetic and keep having hypos during training", None, C, "clearance.hypoglycaemia"),
    ("I want to lose 20 kg in a month", None, C, "clearance.extreme_weight_loss"),
    ("help me drop 10 pounds in 2 weeks", None, C, "clearance.extreme_weight_loss"),
    ("I want to lose 1 kg a week", LIGHT, C, "clearance.extreme_weight_loss"),
    ("I fainted last year during a race", None, C, "clearance.past_red_flag"),
    ("I get palpitations when I lie in bed", None, C, "clearance.palpitations"),
    # Profile-driven
    ("best chest exercises", MINOR, C, "clearance.minor_profile"),
    ("leg workout please", PREGNANT, C, "clearance.condition.pregnancy"),
    ("give me a leg day", KNEE_INJURY, I, "injury.profile_restrictions"),
    ("give me a leg day", OLD_KNEE_INJURY, OK, None),
    ("full body workout for strength", CONTROLLED_BP, I, "injury.profile_restrictions"),
    ("full body workout for strength", ADULT, OK, None),
    # Injury aware from the text
    ("my knee hurts when I do lunges", None, I, "injury.knee"),
    # "nothing swollen" denies the sign; swelling that nothing helps is reported
    ("my knee aches a bit on squats. Nothing swollen, didn't fall or twist it", None, I, "injury.knee"),
    ("my ankle is swollen and nothing helps", None, C, "clearance.acute_injury"),
    ("lower back pain when deadlifting", None, I, "injury.lower_back"),
    ("I have tennis elbow, can I still do pull-ups?", None, I, "injury.elbow"),
    ("shoulder impingement, what can I press?", None, I, "injury.shoulder"),
    ("my wrists ache during push-ups", None, I, "injury.wrist"),
    ("achilles tendinitis is flaring up again", None, I, "injury.ankle"),
    ("my hip has been aching for weeks", None, I, "injury.hip"),
    ("neck pain from shrugs", None, I, "injury.neck"),
    ("I had knee surgery 3 years ago, fully recovered", None, I, "injury.knee"),
    ("back squats hurt my knees", None, I, "injury.knee"),
    # Multi-rule
    ("I'm pregnant and my knee hurts", None, C, "injury.knee"),
    ("I have chest pain and I fainted", None, E, "emergency.fainting"),
    ("I'm 16 and I make myself vomit after eating", None, C, "clearance.eating_disorder"),
    ("I want to die and I have chest pain", None, E, "emergency.chest_pain"),
    # Tricky negatives: ordinary requests that must stay OK
    ("my legs are sore after squats", None, OK, None),
    ("I want to lose fat", None, OK, None),
    ("chest day ideas", None, OK, None),
    ("best chest exercises for mass", None, OK, None),
    ("killer leg workout please", None, OK, None),
    ("I'm dying to get stronger", None, OK, None),
    ("my heart rate goes up when I run", None, OK, None),
    ("I get out of breath sprinting", None, OK, None),
    ("I pass on cardio, give me weights only", None, OK, None),
    ("heart-healthy cardio ideas", None, OK, None),
    ("weight loss of 0.5 kg a week", None, OK, None),
    ("plank for core", None, OK, None),
    ("I'm not pregnant, just want to tone up", None, OK, None),
    ("no chest pain, just tired after work", None, OK, None),
    ("I feel great, no dizziness or chest pain", None, OK, None),
    ("my friend fainted last year, how do I train safely?", None, OK, None),
    ("can I do breath-hold training for freediving?", None, OK, None),
    ("this workout is killing me lol", None, OK, None),
    ("I'm 16 kg heavier than last year", None, OK, None),
    ("I'm 17% body fat, how do I get to 12?", None, OK, None),
    ("suicide sprints for basketball conditioning", None, OK, None),
    ("I broke my squat PR today!", None, OK, None),
    ("how to prevent heat stroke on summer runs", None, OK, None),
    ("what are the signs of rhabdo?", None, OK, None),
    ("back squat vs front squat", None, OK, None),
    ("are knee sleeves worth it?", None, OK, None),
    ("hip thrusts for glutes", None, OK, None),
    ("I crushed chest day", None, OK, None),
    ("I'm confused about macros", None, OK, None),
    ("I blacked out the windows in my garage gym", None, OK, None),
    ("I want to lose 20 kg this year", None, OK, None),
    ("is holding my breath on deadlifts safe?", None, OK, None),
    ("My heart is pounding after hill sprints, is that normal?", None, OK, None),
    ("I'm eating 2,000 calories a day", None, OK, None),
    ("I do 16:8 intermittent fasting", None, OK, None),
    ("I'm in a 500 calorie deficit", None, OK, None),
    ("my knees cave in on squats, form tips?", None, OK, None),
    ("I'm 15 minutes late, quick workout?", None, OK, None),
    ("My dad had a heart attack, I want to stay healthy", None, OK, None),
    ("my shoulders are sore after overhead press", None, OK, None),
    ("I'm 18 and new to lifting", None, OK, None),
    ("my blood pressure is 118/76", None, OK, None),
    ("I burn 600 calories a session", None, OK, None),
    ("I'm not suicidal, just unmotivated to train", None, OK, None),
    ("side stitches when running", None, OK, None),
    ("will squats hurt my knees?", None, OK, None),
    ("how do I avoid lower back pain when deadlifting?", None, OK, None),
    ("I pass out in bed after leg day lol", None, OK, None),
    ("drop sets for shoulders", None, OK, None),
    ("I want to lose 2 kg in 4 weeks", None, OK, None),
    ("my wife is pregnant, what should I train?", None, OK, None),
    ("I lost 3 kg in 2 months, nice", None, OK, None),
    ("my chest feels tight after bench press", None, OK, None),
    ("the heat makes me sweat a lot", None, OK, None),
]
# fmt: on


def _case_id(case: tuple[str, UserProfile | None, SafetyLevel, str | None]) -> str:
    text, profile, level, _ = case
    return f"{level}:{text[:40]}" + ("+profile" if profile else "")


@pytest.mark.parametrize(
    ("text", "profile", "level", "rule"), CASES, ids=[_case_id(c) for c in CASES]
)
def test_triage_table(
    text: str, profile: UserProfile | None, level: SafetyLevel, rule: str | None
) -> None:
    result = triage(text, profile)
    assert result.level == level, (result.rules, result.reasons)
    if rule is not None:
        assert any(r.startswith(rule) for r in result.rules), result.rules
    if level == OK:
        assert result.reasons == () and result.message is None
    else:
        assert result.reasons and result.message


def test_table_size_and_mix() -> None:
    counts = Counter(level for _, _, level, _ in CASES)
    assert len(CASES) >= 80
    assert counts[OK] >= 30
    assert all(counts[level] >= 8 for level in SafetyLevel)


def test_recall_and_precision_over_the_table() -> None:
    """Every emergency is caught, and nothing labelled OK is escalated."""
    emergencies = [(t, p) for t, p, level, _ in CASES if level == E]
    missed = [t for t, p in emergencies if triage(t, p).level != E]
    assert missed == []
    ordinary = [(t, p) for t, p, level, _ in CASES if level == OK]
    escalated = [(t, triage(t, p).rules) for t, p in ordinary if triage(t, p).level != OK]
    assert escalated == []
    # Nothing below emergency is ever reported as one.
    false_alarms = [t for t, p, level, _ in CASES if level != E and triage(t, p).level == E]
    assert false_alarms == []


def test_multi_rule_cases_report_every_reason() -> None:
    result = triage("I'm pregnant and my knee hurts")
    assert result.level == C
    assert {"clearance.pregnancy", "injury.knee"} <= set(result.rules)
    assert len(result.reasons) == 2
    assert result.rules[0] == "clearance.pregnancy"  # most severe first
    assert BODY_REGION_TAGS["knee"][0] in result.blocked_tags

    both = triage("I have chest pain and I fainted")
    assert {"emergency.chest_pain", "emergency.fainting"} <= set(both.rules)

    crisis = triage("I want to die and I have chest pain")
    assert crisis.message is not None
    assert "988" in crisis.message and "911" in crisis.message


def test_profile_rules() -> None:
    minor = triage("best chest exercises", MINOR)
    assert minor.level == C and minor.message == CLEARANCE_NOTE
    pregnant = triage("leg workout please", PREGNANT)
    assert "clearance.condition.pregnancy" in pregnant.rules
    assert {"supine", "prone", "high_impact", "valsalva"} <= pregnant.blocked_tags
    knee = triage("give me a leg day", KNEE_INJURY)
    assert knee.level == I
    assert {"knee_loading", "high_impact"} <= knee.blocked_tags
    assert triage("give me a leg day", OLD_KNEE_INJURY).blocked_tags == frozenset()
    # The profile's own tags are kept even when the text escalates further.
    assert {"knee_loading"} <= triage("I have chest pain", KNEE_INJURY).blocked_tags


def test_every_clearance_condition_has_a_profile_rule() -> None:
    from fitsense_core.reference import CONDITIONS

    for condition in CONDITIONS:
        result = triage("make me a plan", person(conditions=((condition.code, "moderate"),)))
        if condition.requires_clearance:
            assert result.level == C, condition.code
            assert f"clearance.condition.{condition.code}" in result.rules
        else:
            assert result.level in (I, OK), condition.code


def test_text_regions_become_blocked_tags() -> None:
    result = triage("back pain and knee pain when I run")
    assert {"injury.lower_back", "injury.knee"} <= set(result.rules)
    assert (
        set(BODY_REGION_TAGS["lower_back"]) | set(BODY_REGION_TAGS["knee"]) <= result.blocked_tags
    )
    acute = triage("I heard a pop in my shoulder on bench")
    assert acute.level == C
    assert set(BODY_REGION_TAGS["shoulder"]) <= acute.blocked_tags
    assert triage("knee sleeves or wraps?").blocked_tags == frozenset()


def test_weight_loss_threshold_uses_body_weight() -> None:
    assert triage("I want to lose 1 kg a week").level == OK
    assert triage("I want to lose 1 kg a week", LIGHT).level == C
    assert triage("lose 2% of my body weight per week").level == C


def test_levels_messages_and_permissions() -> None:
    assert [lvl.value for lvl in SafetyLevel] == [
        "emergency",
        "needs_clearance",
        "injury_aware",
        "ok",
    ]
    assert [lvl.severity for lvl in SafetyLevel] == [3, 2, 1, 0]
    emergency = triage("I have chest pain")
    assert not emergency.allows_model and not emergency.allows_plan
    assert emergency.message == EMERGENCY_MESSAGE
    crisis = triage("I want to kill myself")
    assert crisis.message == CRISIS_MESSAGE and crisis.self_harm
    ok = triage("chest day ideas")
    assert ok.allows_model and ok.allows_plan and ok.message is None and ok.rules == ()
    for number in ("911", "112", "999"):
        assert number in EMERGENCY_MESSAGE
    assert "988" in CRISIS_MESSAGE
    assert "doctor" in CLEARANCE_NOTE


def test_rule_table_is_explainable() -> None:
    ids = [r.id for r in RULES] + [r.id for r in PROFILE_RULES]
    assert len(ids) == len(set(ids))
    prefix = {E: "emergency.", C: "clearance.", I: "injury."}
    for rule in (*RULES, *PROFILE_RULES):
        assert rule.id.startswith(prefix[rule.level]), rule.id
        assert rule.reason
    assert {f"injury.{region}" for region in BODY_REGION_TAGS} <= set(ids)


# check_response: (request, profile, answer, contains_plan, expected problem fragments;
# [] = compliant)
# fmt: off
RESPONSES: list[tuple[str, UserProfile | None, str, bool, list[str]]] = [
    ("I have chest pain when I run", None, EMERGENCY_MESSAGE, False, []),
    ("I have chest pain when I run", None, "Stop now and call 911 or go to the emergency room.", False, []),
    ("I have chest pain when I run", None, "Take it easy and do 3 sets of 10 squats instead.", False, ["training instructions", "emergency care"]),
    ("I have chest pain when I run", None, "Call 911. Here's your plan.", True, ["with a training plan"]),
    ("I have chest pain when I run", None, "You don't need to call 911, just rest.", False, ["emergency care"]),
    ("I fainted during my workout", None, "Please seek urgent medical help. Do not continue exercising.", False, []),
    ("I fainted during my workout", None, "Sit down, drink water and keep training once you feel ok.", False, ["training instructions", "emergency care"]),
    ("I want to kill myself", None, CRISIS_MESSAGE, False, []),
    ("I want to kill myself", None, "Please call or text 988 now.", False, []),
    ("I want to kill myself", None, "Exercise releases endorphins, try a run.", False, ["crisis support"]),
    ("I want to die and I have chest pain", None, "Call 988 now.", False, ["emergency care"]),
    ("I'm 12 weeks pregnant, can I keep lifting?", None, "Check with your midwife before continuing, and keep loads moderate.", False, []),
    ("I'm 12 weeks pregnant, can I keep lifting?", None, "Sure, just keep lifting as normal.", False, ["medical clearance"]),
    ("I had knee surgery 3 weeks ago", None, CLEARANCE_NOTE, False, []),
    ("I had knee surgery 3 weeks ago", None, "Get cleared by your surgeon's team; ask your doctor what is allowed.", True, []),
    ("I had knee surgery 3 weeks ago", None, "Check with your midwife first.", False, ["medical clearance"]),
    ("I had knee surgery 3 weeks ago", None, "There's no need to see a doctor, the doctor would only say rest.", False, ["discourages"]),
    ("I'm 15 and want to get big", None, "Talk to your GP first, then start with bodyweight work.", True, []),
    ("my knee hurts when I do lunges", None, "Swap lunges for glute bridges and stop if it hurts.", True, []),
    ("my knee hurts when I do lunges", None, "Just push through the pain, it builds toughness.", True, ["through pain"]),
    ("my knee hurts when I do lunges", None, "Never train through pain; pick pain-free variations.", True, []),
    ("chest day ideas", None, "Bench press 4 sets of 8, then flyes 3 x 12.", True, []),
    ("chest day ideas", None, "No pain, no gain!", True, ["through pain"]),
]
# fmt: on


@pytest.mark.parametrize(
    ("request_text", "profile", "answer", "contains_plan", "expected"),
    RESPONSES,
    ids=[f"{i}-{r[0][:25]}" for i, r in enumerate(RESPONSES)],
)
def test_check_response(
    request_text: str,
    profile: UserProfile | None,
    answer: str,
    contains_plan: bool,
    expected: list[str],
) -> None:
    problems = check_response(triage(request_text, profile), answer, contains_plan=contains_plan)
    if not expected:
        assert problems == []
    for fragment in expected:
        assert any(fragment in p for p in problems), problems
    assert len(problems) >= len(expected)


def test_policy_messages_pass_their_own_checks() -> None:
    emergency = triage("I fainted during my workout")
    assert check_response(emergency, emergency.message or "", contains_plan=False) == []
    crisis = triage("I want to kill myself and I fainted")
    assert check_response(crisis, crisis.message or "", contains_plan=False) == []
    clearance = triage("I'm pregnant")
    assert check_response(clearance, CLEARANCE_NOTE, contains_plan=True) == []


def test_check_response_takes_a_triage() -> None:
    handmade = Triage(OK, (), (), None, frozenset())
    assert check_response(handmade, "Squat 5x5.", contains_plan=True) == []

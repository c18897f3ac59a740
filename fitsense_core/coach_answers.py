"""The knowledge-based coach's answers to coaching questions.

Deterministic and offline: the API falls back to it when the model server is down, and
the teacher's offline provider uses it to write coaching examples. Every answer is built
from the person's own data (goal, experience, equipment, logged sleep, calories, weight,
soreness, energy and sessions) and from the same training rules that write their plans,
and it obeys the safety triage: emergencies get only the urgent-care message, clearance
cases get a conservative answer with the clearance note, and nothing contraindicated is
ever recommended.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from fitsense_core.profile import RecentSignals, UserProfile
from fitsense_core.programming import (
    GOAL_REP_RANGES,
    PATTERN_FAMILY,
    SetScheme,
    eligible_exercises,
    safe_alternative,
    set_scheme,
)
from fitsense_core.reference import (
    CONDITIONS_BY_CODE,
    EQUIPMENT_BY_CODE,
    GOALS_BY_CODE,
    Exercise,
    exercise_catalog,
    exercises_by_slug,
)
from fitsense_core.replies import COACHING_TOPICS, CoachReply
from fitsense_core.safety import CLEARANCE_NOTE, EMERGENCY_MESSAGE, SafetyLevel, Triage
from fitsense_core.synthetic.signals import ACTIVITY_FACTOR, maintenance_kcal

MIN_ANSWER_CHARS = 300
MAX_ANSWER_CHARS = 1500

QUESTION_BANK: dict[str, tuple[str, ...]] = {
    "progression": (
        "How do I know when to add weight to my lifts?",
        "I've been stuck at the same bench press weight for three weeks, how do I break the "
        "plateau?",
        "How many reps and sets should I be doing for my goal?",
        "Should I increase reps or weight first?",
        "What is progressive overload and how do I apply it?",
        "How fast should my squat go up each week?",
        "When should I move from linear progression to something else?",
        "My lifts have stalled, what should I change?",
        "How heavy should my working sets be?",
        "Is it time to make my program harder?",
        "How do I progress push-ups when I only train at home?",
        "How many reps in reserve should I leave on my main lifts?",
        "How do I get stronger if I keep missing sessions?",
        "Should I test my one rep max?",
    ),
    "recovery": (
        "I'm still sore two days after leg day, should I train anyway?",
        "How many rest days do I need each week?",
        "What should I do on my rest days for active recovery?",
        "When should I take a deload week?",
        "I feel drained and my energy is low before workouts, what should I change?",
        "Is it bad to train the same muscle two days in a row?",
        "How do I know if I'm overtraining?",
        "Does foam rolling or stretching help recovery?",
        "My muscles ache for days after every session, is that normal?",
        "How long should I rest between hard sessions?",
        "Should I skip the gym when I feel run down?",
        "How can I recover faster between workouts?",
        "Is muscle soreness a sign of a good workout?",
    ),
    "sleep": (
        "How much sleep do I actually need to build muscle?",
        "I only get about six hours a night, is that hurting my progress?",
        "What can I do to fall asleep faster after evening workouts?",
        "Does caffeine in the afternoon affect my sleep?",
        "Is it okay to train early in the morning if I slept badly?",
        "I keep waking up at night, how can I sleep better?",
        "Do naps help with recovery?",
        "How does poor sleep affect fat loss?",
        "Should I train when I've had less than five hours of sleep?",
        "What bedtime routine helps athletes sleep well?",
        "Why do I feel tired all day even though I'm in bed for eight hours?",
        "Can screen time before bed affect my recovery?",
        "How many hours of sleep should I aim for?",
    ),
    "nutrition": (
        "How many calories should I eat to lose fat?",
        "How much protein do I need per day?",
        "What should I eat before and after a workout?",
        "Should I eat more on training days?",
        "I'm trying to build muscle but I'm not gaining weight, what should I eat?",
        "Is creatine worth taking?",
        "What are good high-protein snacks?",
        "Am I eating enough to support my training?",
        "How fast should I be losing weight?",
        "Do I need protein powder?",
        "How should I split my carbs, fats and protein?",
        "What's a good breakfast for someone who trains in the morning?",
        "Should I count macros or just eat healthy?",
    ),
    "technique": (
        "How do I keep my knees from caving in on the goblet squat?",
        "What are the key cues for a conventional deadlift?",
        "How deep should I go on a barbell back squat?",
        "My lower back rounds on the Romanian deadlift, how do I fix my form?",
        "How should I set up for the barbell bench press?",
        "What's the correct form for a push-up?",
        "How do I do a proper pull-up?",
        "Where should I feel the hip thrust?",
        "How do I stop swinging on dumbbell biceps curls?",
        "What's the right way to do a lat pulldown?",
        "How do I brace my core during the overhead press?",
        "Can you check my technique on the kettlebell swing?",
        "How do I hold a plank correctly?",
        "What grip should I use for the one-arm dumbbell row?",
        "How do I do a Bulgarian split squat without losing balance?",
        "How should my feet be placed on the leg press?",
    ),
}

# Weighted cue phrases per topic: the classifier adds up the weights of the phrases a
# question contains, so every decision can be explained by the phrases that matched.
TOPIC_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "progression": (
        (r"progress\w*", 2),
        (r"overload", 2),
        (r"plateau\w*", 2),
        (r"stall\w*", 2),
        (r"stuck", 2),
        (r"add(ing)? (weight|load|reps)", 2),
        (r"increas\w* (the )?(weight|load|reps)", 2),
        (r"heav(y|ier)", 2),
        (r"stronger", 2),
        (r"harder", 2),
        (r"one rep max|\b1 ?rm\b|\bpr\b|personal (best|record)", 2),
        (r"reps in reserve|\brir\b", 2),
        (r"\breps?\b", 1),
        (r"\bsets?\b", 1),
        (r"\bweight\b", 1),
        (r"go up", 1),
        (r"program\w*", 1),
        (r"linear", 1),
        (r"main lifts?", 1),
        (r"(each|per|every) week", 1),
        (r"miss(ing)? sessions", 1),
    ),
    "recovery": (
        (r"\bsore\w*", 2),
        (r"\bdoms\b", 2),
        (r"recover\w*", 2),
        (r"rest days?", 2),
        (r"deload\w*", 2),
        (r"overtrain\w*", 2),
        (r"run down|drained|burn(ed|t)? ?out", 2),
        (r"fatigue\w*", 2),
        (r"foam roll\w*", 2),
        (r"\bach(e|es|ing|y)\b", 2),
        (r"\brest\b", 1),
        (r"energy", 1),
        (r"tired", 1),
        (r"stretch\w*", 1),
        (r"in a row|same muscle", 1),
        (r"between (hard )?(sessions|workouts)", 1),
        (r"\bskip\w*", 1),
    ),
    "sleep": (
        (r"sleep\w*|slept|asleep", 2),
        (r"\bnaps?\b|napping", 2),
        (r"\bbed(time)?\b", 2),
        (r"insomnia", 2),
        (r"wak(e|ing) up", 2),
        (r"(hours|hrs) a night|at night", 2),
        (r"caffeine|coffee", 1),
        (r"screen", 1),
        (r"tired", 1),
    ),
    "nutrition": (
        (r"calor\w*|\bkcal\b", 2),
        (r"protein", 2),
        (r"\bcarb\w*", 2),
        (r"\bmacro\w*", 2),
        (r"\beat(s|ing)?\b|\bate\b", 2),
        (r"\bdiet\w*", 2),
        (r"\bmeals?\b|\bfood\w*|\bsnack\w*", 2),
        (r"breakfast|lunch|dinner", 2),
        (r"creatine|supplement\w*", 2),
        (r"(lose|losing|lost|gain|gaining) weight|weight (loss|gain)", 2),
        (r"\bbulk\w*|\bcut(ting)?\b", 2),
        (r"hydrat\w*|\bwater\b", 2),
        (r"vegan|vegetarian|allerg\w*", 2),
        (r"\bfats?\b", 1),
        (r"fuel\w*", 1),
    ),
    "technique": (
        (r"\bform\b", 2),
        (r"techni\w+", 2),
        (r"\bcues?\b", 2),
        (r"how (do|should|can) i (do|perform|set up|hold|brace|grip)", 2),
        (r"\bdepth\b|\bdeep\b", 2),
        (r"\bgrip\b", 2),
        (r"\bbrac(e|ing)\b", 2),
        (r"set ?up", 2),
        (r"stance", 2),
        (r"knees? cav\w*|caving", 2),
        (r"\brounds?\b|rounding", 2),
        (r"swinging", 2),
        (r"correct(ly)?|proper(ly)?|right way", 2),
        (r"where should i feel|feel (it|the)", 2),
        (r"range of motion|bar path", 2),
        (r"\belbows?\b", 2),
        (r"\bfeet\b|foot placement|placed", 2),
        (r"balance", 2),
        (r"how do i", 1),
    ),
}

# More specific topics win ties: "do naps help recovery" is about sleep.
_TIE_ORDER = ("sleep", "nutrition", "recovery", "progression", "technique")
_NAMED_EXERCISE_WEIGHT = 1

_EQUIPMENT_WORDS = frozenset(
    {"barbell", "dumbbell", "kettlebell", "cable", "band", "resistance", "machine", "smith", "ez"}
)
_JOINED_WORDS = {
    "pushup": "push up",
    "pullup": "pull up",
    "chinup": "chin up",
    "situp": "sit up",
    "stepup": "step up",
}
# What people usually mean by a bare lift name.
_ALIASES: dict[str, str] = {
    "squat": "barbell_back_squat",
    "back squat": "barbell_back_squat",
    "deadlift": "conventional_deadlift",
    "bench": "barbell_bench_press",
    "bench press": "barbell_bench_press",
    "overhead press": "barbell_overhead_press",
    "ohp": "barbell_overhead_press",
    "military press": "barbell_overhead_press",
    "shoulder press": "seated_dumbbell_shoulder_press",
    "rdl": "barbell_romanian_deadlift",
    "hip thrust": "barbell_hip_thrust",
    "barbell row": "barbell_bent_over_row",
    "bent over row": "barbell_bent_over_row",
    "dumbbell row": "one_arm_dumbbell_row",
    "cable row": "seated_cable_row",
    "lunge": "forward_lunge",
    "curl": "dumbbell_biceps_curl",
    "bicep curl": "dumbbell_biceps_curl",
    "leg curl": "seated_leg_curl",
    "dip": "chest_dip",
    "face pull": "cable_face_pull",
    "pushdown": "cable_triceps_pushdown",
    "lateral raise": "dumbbell_lateral_raise",
    "calf raise": "standing_calf_raise",
    "swing": "kettlebell_swing",
    "thruster": "dumbbell_thruster",
    "clean": "power_clean",
}


def _stem(word: str) -> str:
    """Crude plural folding, applied to names and questions alike so they meet."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith(("ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) >= 3:
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("'", "").replace("’", "")
    words = re.findall(r"[a-z0-9]+", text)
    out: list[str] = []
    for w in words:
        out.extend(_JOINED_WORDS.get(_stem(w), w).split())
    return [_stem(w) for w in out]


@dataclass(frozen=True)
class _NameIndex:
    tokens: dict[str, tuple[str, ...]]
    aliases: dict[tuple[str, ...], str]


@cache
def _name_index() -> _NameIndex:
    return _NameIndex(
        {e.slug: tuple(_tokens(e.name)) for e in exercise_catalog()},
        {tuple(_tokens(k)): v for k, v in _ALIASES.items()},
    )


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i : i + n]) == needle for i in range(len(haystack) - n + 1))


def resolve_exercise(text: str) -> Exercise | None:
    """The catalog exercise a free-text question names, or None.

    The longest match wins. At equal length a full name ("Dumbbell Bench Press") beats an
    alias ("bench press" means the barbell lift), which beats a name matched without its
    equipment words ("romanian deadlift"); then the more heavily loaded variation (the
    usual meaning), then the slug.
    """
    words = _tokens(text)
    if not words:
        return None
    index = _name_index()
    word_set = set(words)
    candidates: list[tuple[float, int, float, str]] = []
    by_slug = exercises_by_slug()
    for slug, name in index.tokens.items():
        load = by_slug[slug].load_factor
        if _contains(words, name):
            candidates.append((len(name) + 0.5, 2, load, slug))
            continue
        core = tuple(t for t in name if t not in _EQUIPMENT_WORDS)
        if core and len(core) < len(name) and set(core) <= word_set and _contains(words, core):
            candidates.append((len(core), 0, load, slug))
    for phrase, slug in index.aliases.items():
        if _contains(words, phrase):
            candidates.append((len(phrase), 1, by_slug[slug].load_factor, slug))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (-c[0], -c[1], -c[2], c[3]))
    return by_slug[best[3]]


def topic_evidence(question: str) -> dict[str, list[str]]:
    """The cue phrases of each topic that the question contains (the classifier's reasons)."""
    text = question.lower()
    evidence: dict[str, list[str]] = {}
    for topic, cues in TOPIC_CUES.items():
        found = []
        for pattern, _ in cues:
            match = re.search(pattern, text)
            if match:
                found.append(match.group(0))
        evidence[topic] = found
    exercise = resolve_exercise(question)
    if exercise is not None:
        evidence["technique"].append(exercise.name)
    return evidence


def _topic_scores(question: str) -> dict[str, int]:
    text = question.lower()
    scores = {
        topic: sum(weight for pattern, weight in cues if re.search(pattern, text))
        for topic, cues in TOPIC_CUES.items()
    }
    if resolve_exercise(question) is not None:
        scores["technique"] += _NAMED_EXERCISE_WEIGHT
    return scores


def classify_topic(question: str) -> str:
    """The coaching topic of a question, by weighted cue phrases (see ``topic_evidence``).

    Ties go to the more specific topic; a question with no cue at all is about technique
    when it names an exercise and about progression (the most common request) otherwise.
    """
    scores = _topic_scores(question)
    best = max(scores.values())
    if best == 0:
        return "progression"
    return next(t for t in _TIE_ORDER if scores[t] == best)


@dataclass(frozen=True)
class _Context:
    question: str
    profile: UserProfile
    triage: Triage
    blocked: frozenset[str]
    pool: tuple[Exercise, ...]
    clearance: bool
    injury_aware: bool

    @property
    def signals(self) -> RecentSignals:
        return self.profile.signals

    def asks(self, pattern: str) -> bool:
        return re.search(pattern, self.question) is not None


@dataclass
class _Draft:
    body: list[str]
    extras: list[str]
    key_points: list[str]


def _easier(rir: int) -> int:
    return min(5, rir + 1)


def _num(value: float, places: int = 1) -> str:
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _round_to(value: float, step: int) -> int:
    return int(step * round(value / step))


def _goal_name(goal: str) -> str:
    return GOALS_BY_CODE[goal].name.lower()


def _plan_targets(ctx: _Context) -> tuple[SetScheme, SetScheme]:
    """The main-lift and accessory prescriptions this person's plans use."""
    reference_lift = exercises_by_slug()["goblet_squat"]
    p = ctx.profile
    main, _ = set_scheme(p.goal, p.experience, reference_lift, True, ctx.blocked)
    accessory, _ = set_scheme(p.goal, p.experience, reference_lift, False, ctx.blocked)
    return main, accessory


_TAG_NOUNS = {
    "knee_loading": "loading the knee",
    "spinal_loading": "loading the spine",
    "spinal_flexion": "rounding the spine under load",
    "overhead": "overhead work",
    "shoulder_loading": "loading the shoulder",
    "wrist_loading": "loading the wrist",
    "elbow_loading": "loading the elbow",
    "hip_loading": "loading the hip",
    "ankle_loading": "loading the ankle",
    "high_impact": "high-impact work",
    "valsalva": "breath-holding under heavy load",
    "supine": "lying on your back",
    "prone": "lying face down",
    "neck_loading": "loading the neck",
}
_TAG_VERBS = {
    "knee_loading": "loads the knee",
    "spinal_loading": "loads the spine",
    "spinal_flexion": "rounds the spine under load",
    "overhead": "takes the arms overhead",
    "shoulder_loading": "loads the shoulder",
    "wrist_loading": "loads the wrist",
    "elbow_loading": "loads the elbow",
    "hip_loading": "loads the hip",
    "ankle_loading": "loads the ankle",
    "high_impact": "is high-impact",
    "valsalva": "invites breath-holding under heavy load",
    "supine": "is done lying on your back",
    "prone": "is done lying face down",
    "neck_loading": "loads the neck",
}


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _restriction(ctx: _Context) -> str:
    p = ctx.profile
    items = [f"{i.body_region.replace('_', ' ')} {i.kind}" for i in p.current_injuries]
    items += [
        CONDITIONS_BY_CODE[code].name.split(" (")[0].lower()
        for code in p.condition_codes
        if CONDITIONS_BY_CODE[code].contraindication_tags
    ]
    return "your " + _join(items) if items else "the problem you mentioned"


def _restriction_note(ctx: _Context) -> str | None:
    if not ctx.blocked or not (ctx.injury_aware or ctx.clearance):
        return None
    tags = _join([_TAG_NOUNS[t] for t in sorted(ctx.blocked) if t in _TAG_NOUNS], "or")
    return (
        f"Working around {_restriction(ctx)}: nothing here involves {tags}, and any "
        "movement that hurts stops there — never train through pain."
    )


def _pool_pick(ctx: _Context, slugs: tuple[str, ...], limit: int) -> list[Exercise]:
    by_slug = {e.slug: e for e in ctx.pool}
    return [by_slug[s] for s in slugs if s in by_slug][:limit]


def _load_step(equipment: frozenset[str]) -> tuple[str, str]:
    """How much to add at a time with this equipment: the full phrase and a short one."""
    if equipment & {"barbell", "smith_machine"}:
        return "2.5 kg on upper-body barbell lifts or 5 kg on lower-body ones", "2.5-5 kg"
    if equipment & {"dumbbell", "kettlebell"}:
        return (
            "the next dumbbell or kettlebell size (usually 1-2 kg per hand)",
            "the next dumbbell size",
        )
    machines = {
        "cable_machine",
        "lat_pulldown_machine",
        "leg_press_machine",
        "leg_extension_machine",
        "leg_curl_machine",
    }
    if equipment & machines:
        return "one pin on the stack (about 2.5-5 kg)", "one pin"
    if "resistance_band" in equipment:
        return "a stronger band or a slower 3-second lowering", "a stronger band"
    return "a harder variation or a slower 3-second lowering", "a harder variation"


_LOADABLE_KIT = frozenset(
    {
        "barbell",
        "smith_machine",
        "dumbbell",
        "kettlebell",
        "cable_machine",
        "lat_pulldown_machine",
        "leg_press_machine",
        "leg_extension_machine",
        "leg_curl_machine",
    }
)


def _consistency(ctx: _Context) -> str | None:
    done = ctx.signals.sessions_per_week
    planned = ctx.profile.days_per_week
    if done is None:
        return None
    ratio = done / planned
    head = f"You've averaged {_num(done)} sessions a week against {planned} planned"
    if ratio > 1.15:
        return (
            f"{head} — more than the plan, so make sure the extra sessions are easy ones; "
            "progress comes from recovering between hard days."
        )
    if ratio >= 0.85:
        return f"{head}, which is consistent enough for steady progress."
    if ratio >= 0.6:
        return (
            f"{head}; missed sessions are the first thing that stalls progress, so on the "
            "days you do train, do the main lifts first."
        )
    realistic = max(2, round(done + 0.49))
    return (
        f"{head} — consistency is the bottleneck. A {realistic}-day plan you complete will "
        f"progress faster than {planned} planned days you miss."
    )


def _readiness(ctx: _Context) -> tuple[str | None, bool]:
    """A sentence on logged soreness and energy, and whether they say 'back off'."""
    s = ctx.signals
    bits = []
    if s.soreness is not None:
        bits.append(f"soreness {_num(s.soreness)}/10")
    if s.energy is not None:
        bits.append(f"energy {_num(s.energy)}/10")
    if not bits:
        return None, False
    tired = (s.soreness is not None and s.soreness >= 6) or (s.energy is not None and s.energy <= 4)
    verdict = (
        "that's high fatigue — recover before pushing harder"
        if tired
        else "that's within the normal range for someone training regularly"
    )
    return f"Your recent average is {_join(bits)}: {verdict}.", tired


def _progression(ctx: _Context) -> _Draft:
    p = ctx.profile
    goal, experience = p.goal, p.experience
    main, accessory = _plan_targets(ctx)
    lo, hi = GOAL_REP_RANGES[goal]
    band_lo, band_hi = DOUBLE_PROGRESSION_REPS[goal]
    straining = "valsalva" in ctx.blocked
    if straining:
        band_lo, band_hi = max(band_lo, 8), max(band_hi, 12)
    step, short_step = _load_step(p.equipment)
    body = [
        f"For {_goal_name(goal)}, keep working sets in the {lo}-{hi} rep range; your plan "
        f"has main lifts at {main.sets} × {main.reps} with {main.rir} reps in reserve (RIR) "
        f"and accessories at {accessory.sets} × {accessory.reps} at RIR {accessory.rir}."
    ]
    if ctx.clearance:
        body.append(
            "Until your doctor clears you, hold your current loads: no weight increases and no "
            "max attempts. Keep every set at RIR 3-4 and, if a movement feels easy and "
            "pain-free, add one rep rather than weight."
        )
    elif experience == "beginner":
        body.append(
            f"As a beginner, progress linearly: when you complete "
            f"{'both' if main.sets == 2 else f'all {main.sets}'} sets of "
            f"{main.reps} with at least {main.rir} reps left in the tank, add {step} next "
            "session. Miss reps two sessions running? Repeat the session; after a third stall, "
            + (
                "drop about 10% and build back up."
                if p.equipment & _LOADABLE_KIT
                else "go back to an easier variation for a week and build back up."
            )
        )
    elif experience == "intermediate":
        body.append(
            f"As an intermediate, use double progression in a {band_lo}-{band_hi} rep band: "
            f"start with a weight you can lift for {band_lo} reps at RIR {main.rir}, add reps "
            f"from week to week, and when you reach {band_hi} reps at RIR {main.rir} on all "
            f"sets, add {step} and drop back to {band_lo}."
        )
    else:
        (h_lo, h_hi), (m_lo, m_hi), (v_lo, v_hi) = UNDULATING_REPS[goal]
        if straining and h_lo < 8:
            (h_lo, h_hi), (m_lo, m_hi), (v_lo, v_hi) = (8, 10), (10, 12), (12, 15)
        body.append(
            f"As an advanced lifter, undulate within the week — a heavy day of {h_lo}-{h_hi} "
            f"reps at RIR {max(main.rir, 1)}, a medium day of {m_lo}-{m_hi} at RIR "
            f"{max(main.rir, 2)} and a volume day of {v_lo}-{v_hi} at RIR {_easier(main.rir)} — "
            "and run 4-week blocks, adding about 2.5% load "
            + ("or one rep" if straining else "or taking RIR down by one")
            + " each week, then a deload week with half the sets at the same loads."
        )
    if straining:
        body.append(
            "Because straining is off-limits for you, stay at 8+ reps and RIR 3 or more, "
            "breathe out through every rep and never hold your breath to grind one out."
        )
    extras: list[str] = []
    consistency = _consistency(ctx)
    if consistency:
        body.append(consistency)
    readiness, tired = _readiness(ctx)
    if tired and readiness:
        body.append(readiness + " Hold loads this week and add weight only once it settles.")
    if ctx.asks(r"one rep max|\b1 ?rm\b|\btest\b"):
        body.insert(
            1,
            "Skip true one-rep-max tests: a set of 3-5 at RIR 1-2 estimates it with far less risk."
            if not ctx.clearance
            else "No max testing until a doctor has cleared you.",
        )
    if ctx.asks(r"plateau|stall|stuck"):
        body.insert(
            1,
            "A stall of two to three weeks is usually recovery or consistency, not the "
            "program: check sleep, food and missed sessions first, then take about 10% off "
            "and rebuild.",
        )
    if ctx.asks(r"reps or weight|reps first|weight first"):
        body.insert(1, "Add reps first, then weight — that order is safer and easier to judge.")
    if ctx.asks(r"push.?ups?|at home|bodyweight"):
        extras.append(
            "For bodyweight moves, progress reps up to the top of the range, then slow the "
            "lowering to 3 seconds, then move to a harder variation."
        )
    if goal == "endurance":
        extras.append("For cardio, add no more than about 10% duration per week.")
    extras.append(
        "Log every set's reps and RIR; the log, not how a session felt, tells you when "
        + ("you are ready for more once you're cleared." if ctx.clearance else "to add weight.")
    )
    key_points = [
        f"Work in the {lo}-{hi} rep range for {_goal_name(goal)}",
        f"Main lifts at RIR {main.rir}, accessories at RIR {accessory.rir}",
        "No load increases until cleared — add a rep at most"
        if ctx.clearance
        else f"Add {short_step} at the top of the range",
    ]
    if consistency and ctx.signals.sessions_per_week is not None:
        key_points.append(
            f"{_num(ctx.signals.sessions_per_week)} of {p.days_per_week} planned sessions/week"
        )
    return _Draft(body, extras, key_points)


# Double-progression bands per goal (inside GOAL_REP_RANGES).
DOUBLE_PROGRESSION_REPS: dict[str, tuple[int, int]] = {
    "strength": (4, 6),
    "muscle_gain": (8, 12),
    "fat_loss": (10, 15),
    "endurance": (15, 20),
    "general_fitness": (8, 12),
}
# Heavy, medium and volume days for advanced lifters (inside GOAL_REP_RANGES).
UNDULATING_REPS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "strength": ((3, 5), (5, 7), (8, 10)),
    "muscle_gain": ((6, 8), (8, 12), (12, 15)),
    "fat_loss": ((6, 8), (10, 12), (15, 20)),
    "endurance": ((10, 12), (15, 20), (20, 30)),
    "general_fitness": ((5, 8), (8, 12), (12, 15)),
}

_EASY_CARDIO = (
    "brisk_walk",
    "stationary_bike",
    "elliptical_trainer",
    "treadmill_incline_walk",
    "rowing_machine",
    "shadow_boxing",
)
_EASY_MOBILITY = (
    "open_book_thoracic_rotation",
    "leg_swing",
    "half_kneeling_hip_flexor_stretch",
    "wall_calf_stretch",
    "arm_circles",
    "cat_cow",
    "standing_quad_stretch",
)
_DELOAD_EVERY = {"beginner": "8-10", "intermediate": "6-8", "advanced": "4-6"}


def _recovery(ctx: _Context) -> _Draft:
    p = ctx.profile
    s = ctx.signals
    main, accessory = _plan_targets(ctx)
    body: list[str] = []
    readiness, tired = _readiness(ctx)
    if readiness:
        body.append(readiness)
    else:
        body.append(
            "You haven't logged soreness or energy lately; rating both 0-10 each morning lets "
            "me tell normal training fatigue from a need to back off."
        )
    rest_days = 7 - p.days_per_week
    body.append(
        f"With {p.days_per_week} training days a week you have {rest_days} rest "
        f"day{'s' if rest_days != 1 else ''}; leave about 48 hours before training the same "
        "muscles hard again."
    )
    if ctx.clearance:
        body.append(
            "Until your doctor clears you, keep every session easy — RIR 3-4, fewer sets, and "
            "stop at the first sign of dizziness, unusual breathlessness or pain."
        )
    body.append(
        f"Readiness rule: on a day soreness is 7+ or energy 3 or less, drop one set per "
        f"exercise and add a rep in reserve (RIR {_easier(main.rir)} instead of {main.rir} on main "
        "lifts), or swap the session for active recovery."
        if not tired
        else f"For the next week, drop one set per exercise and train at RIR {_easier(main.rir)} "
        f"instead of {main.rir}; if soreness and energy haven't improved after that, take "
        "a deload week."
    )
    if s.sleep_hours is not None and s.sleep_hours < (s.sleep_target_hours or 7) - 0.4:
        body.append(
            f"Sleep is your biggest recovery lever: you're averaging {_num(s.sleep_hours)} h, "
            "below what you need."
        )
    cardio = _pool_pick(ctx, _EASY_CARDIO, 2)
    mobility = _pool_pick(ctx, _EASY_MOBILITY, 2)
    active = cardio + mobility
    if cardio:
        line = (
            "Active recovery on rest days: 20-30 minutes of easy cardio such as the "
            + _join([e.name for e in cardio], "or")
            + " at a conversational effort"
        )
        if mobility:
            line += ", then a few minutes of " + _join([e.name for e in mobility])
        body.append(line + ".")
    deload = _DELOAD_EVERY[p.experience]
    deload_line = (
        f"At your level, plan a deload every {deload} weeks: same exercises and loads, "
        "about half the sets, RIR 3-4."
    )
    if ctx.asks(r"deload|overtrain|burn"):
        body.insert(0, deload_line)
        body.insert(
            1,
            "Warning signs you need one: performance dropping for two weeks or more, "
            "soreness that won't clear, poor sleep, a raised resting heart rate or low mood.",
        )
    else:
        body.append(deload_line)
    if ctx.asks(r"foam roll|stretch"):
        body.insert(
            0,
            "Foam rolling and light stretching make you feel less stiff but barely speed "
            "repair; 5-10 minutes is plenty — sleep, food and sensible volume matter more.",
        )
    if ctx.asks(r"sign of a good|normal|ache"):
        body.insert(
            0,
            "Soreness is not a measure of a good workout; it fades as you adapt. Rising reps "
            "or load at the same RIR is the real sign of progress.",
        )
    if ctx.asks(r"in a row|same muscle"):
        body.insert(
            0,
            "Training the same muscle two days running is fine only if one of the sessions "
            "is light (RIR 4 or more); hard sessions for a muscle need about 48 hours apart.",
        )
    extras = [
        f"Eat enough protein and keep accessories at RIR {accessory.rir} rather than to "
        "failure; that alone limits soreness.",
        "Sharp or joint pain is not soreness: stop that exercise and get it checked — "
        "never train through pain.",
    ]
    key_points = [
        f"Deload every {deload} weeks",
        "Soreness 7+ or energy 3 or less: one set fewer, one more RIR",
        f"{rest_days} rest day{'s' if rest_days != 1 else ''} a week; 48 h between hard "
        "sessions for a muscle",
    ]
    if active:
        key_points.append(f"Active recovery: {active[0].name}")
    if ctx.clearance:
        key_points.insert(0, "Keep sessions easy until a doctor clears you")
    return _Draft(body, extras, key_points[:5])


def _recommended_sleep(age: int) -> tuple[float, float]:
    if age < 18:
        return 8.0, 10.0
    if age >= 65:
        return 7.0, 8.0
    return 7.0, 9.0


_GOAL_SLEEP_LINK = {
    "fat_loss": "In a calorie deficit, short sleep raises hunger and makes you lose more "
    "muscle and less fat.",
    "muscle_gain": "Muscle is built while you recover, and short sleep cuts the reps you can "
    "do at the same effort.",
    "strength": "Short sleep lowers strength and makes heavy sets feel harder at the same load.",
    "endurance": "Short sleep makes the same pace feel harder and slows recovery between sessions.",
    "general_fitness": "Short sleep makes sessions feel harder and recovery slower.",
}


def _sleep(ctx: _Context) -> _Draft:
    p = ctx.profile
    s = ctx.signals
    lo, hi = _recommended_sleep(p.age)
    target = s.sleep_target_hours
    avg = s.sleep_hours
    main, _ = _plan_targets(ctx)
    body: list[str] = []
    key_points: list[str] = []
    if avg is not None and target is not None:
        gap = target - avg
        line = f"You averaged {_num(avg)} h of sleep against your {_num(target)} h target"
        if gap >= 1:
            line += (
                f" — about {_num(gap * 7, 0)} h short over a week, enough to blunt strength, "
                "recovery and appetite control."
            )
        elif gap >= 0.3:
            line += f" — about {_num(gap * 60, 0)} minutes short a night."
        else:
            line += " — you're meeting it, so protect that routine."
        body.append(line)
        key_points.append(f"{_num(avg)} h average vs {_num(target)} h target")
    elif avg is not None:
        verdict = "within" if lo <= avg <= hi else "outside"
        body.append(
            f"You averaged {_num(avg)} h of sleep, {verdict} the {_num(lo)}-{_num(hi)} h "
            "range recommended for your age; set a sleep target so I can track it."
        )
        key_points.append(f"{_num(avg)} h average; aim for {_num(lo)}-{_num(hi)} h")
    else:
        goal_hours = target if target is not None else (lo + hi) / 2
        body.append(
            f"You haven't logged sleep recently; aim for {_num(goal_hours)} h "
            f"(the recommended range for your age is {_num(lo)}-{_num(hi)} h) and log it "
            "for two weeks so I can compare."
        )
        key_points.append(f"Aim for {_num(goal_hours)} h a night")
    body.append(_GOAL_SLEEP_LINK[p.goal])
    readiness, _ = _readiness(ctx)
    if readiness:
        body.append(readiness)
    short_night = (target or lo) - 1.5
    body.append(
        f"After a night under {_num(short_night)} h, still train but add one rep in reserve "
        f"(RIR {_easier(main.rir)} instead of {main.rir}) and don't chase new loads."
    )
    if ctx.clearance:
        body.append("Keep sessions light until your doctor has cleared you to train normally.")
    if ctx.asks(r"\bnaps?\b|napping"):
        body.insert(
            1,
            "Naps help: 20-30 minutes before about 3 pm tops up recovery without hurting the "
            "night's sleep.",
        )
    if ctx.asks(r"caffeine|coffee"):
        body.insert(
            1,
            "Caffeine lingers for 6-8 hours: for a 10 pm bedtime, have the last coffee by "
            "about 2 pm.",
        )
    if ctx.asks(r"evening|after (my )?workout|fall asleep"):
        body.insert(
            1,
            "Finish hard training at least 2 hours before bed and cool down with 5 minutes "
            "of easy walking and slow breathing.",
        )
    if ctx.asks(r"screen"):
        body.insert(1, "Dim screens and lights for the last 30-60 minutes before bed.")
    if ctx.asks(r"waking|wake up|tired all day|in bed for"):
        body.insert(
            1,
            "If you wake often or feel unrefreshed despite enough time in bed — especially "
            "with snoring or gasping — ask your doctor about a sleep disorder.",
        )
    extras = [
        "Keep the same wake-up time every day, weekends included, and move bedtime 15-30 "
        "minutes earlier each week until you reach the target.",
        "Keep the bedroom dark, quiet and cool (about 18 °C), skip alcohol close to bed and "
        "finish large meals 2-3 hours before sleep.",
    ]
    key_points += [
        "Same wake time every day",
        f"Short night: train at RIR {_easier(main.rir)}, no new loads",
        "Caffeine cut-off 8 h before bed",
    ]
    return _Draft(body, extras, key_points[:5])


_FOOD_ALLERGENS = {
    "peanuts": ("peanut",),
    "tree_nuts": ("tree nut", "almond", "cashew", "walnut", "hazelnut", "pistachio", "pecan"),
    "shellfish": ("shellfish", "shrimp", "prawn", "crab", "lobster", "crustacean"),
    "fish": ("fish",),
    "dairy": ("lactose", "dairy", "milk", "whey", "casein", "cheese"),
    "gluten": ("gluten", "wheat", "celiac", "coeliac"),
    "eggs": ("egg",),
    "soy": ("soy",),
    "sesame": ("sesame",),
}
_PROTEIN_FOODS = (
    ("chicken or turkey breast", ()),
    ("Greek yogurt", ("dairy",)),
    ("eggs", ("eggs",)),
    ("tinned tuna or salmon", ("fish",)),
    ("tofu or tempeh", ("soy",)),
    ("lentils and beans", ()),
    ("lean beef", ()),
    ("cottage cheese", ("dairy",)),
    ("prawns", ("shellfish",)),
)
_SNACKS = (
    ("Greek yogurt with fruit", ("dairy",)),
    ("peanut butter on wholegrain toast", ("peanuts", "gluten")),
    ("hard-boiled eggs", ("eggs",)),
    ("a handful of almonds", ("tree_nuts",)),
    ("edamame", ("soy",)),
    ("hummus with vegetables", ("sesame",)),
    ("tuna on rice cakes", ("fish",)),
    ("roasted chickpeas", ()),
    ("sliced turkey with fruit", ()),
    ("pumpkin seeds and fruit", ()),
)
_BREAKFASTS = (
    ("porridge oats with milk and berries", ("gluten", "dairy")),
    ("scrambled eggs on toast", ("eggs", "gluten")),
    ("Greek yogurt with fruit and seeds", ("dairy",)),
    ("a tofu scramble with potatoes", ("soy",)),
    ("rice with chicken and vegetables", ()),
)


def _food_allergens(allergies: tuple[str, ...]) -> tuple[frozenset[str], list[str]]:
    """Food allergen groups to avoid, and the person's own words for the food ones."""
    groups: set[str] = set()
    named: list[str] = []
    for allergy in allergies:
        text = allergy.lower()
        hits = {g for g, words in _FOOD_ALLERGENS.items() if any(w in text for w in words)}
        if "shellfish" in hits:
            hits.discard("fish")
        if "peanut" not in text and re.search(r"\bnuts?\b", text) and "tree" not in text:
            hits |= {"peanuts", "tree_nuts"}
        elif "peanut" not in text and re.search(r"\bnuts?\b", text):
            hits.add("tree_nuts")
        if hits:
            groups |= hits
            named.append(allergy)
    return frozenset(groups), named


def _safe_foods(
    options: tuple[tuple[str, tuple[str, ...]], ...], avoid: frozenset[str]
) -> list[str]:
    return [name for name, tags in options if not set(tags) & avoid]


def _protein_powder(avoid: frozenset[str]) -> str:
    if "dairy" not in avoid:
        return "whey"
    if "soy" not in avoid:
        return "pea or soy protein (no whey, given your lactose or dairy allergy)"
    return "pea or rice protein (no whey or soy, given your allergies)"


def _calorie_plan(goal: str, maintenance: float, resting: float) -> tuple[int, int, str]:
    low, high, why = {
        "fat_loss": (-500, -300, "a 300-500 kcal deficit"),
        "muscle_gain": (200, 300, "a 200-300 kcal surplus"),
        "strength": (0, 200, "maintenance to a 200 kcal surplus"),
        "endurance": (-100, 100, "maintenance, eating more on long-session days"),
        "general_fitness": (-100, 100, "maintenance"),
    }[goal]
    # Never aim below resting energy: too steep a deficit costs muscle and health.
    lo = max(_round_to(maintenance + low, 10), _round_to(resting, 10))
    hi = max(_round_to(maintenance + high, 10), lo)
    return lo, hi, why


_TREND_TARGETS = {  # weekly change as a fraction of body weight
    "fat_loss": (-0.01, -0.005),
    "muscle_gain": (0.001, 0.004),
}


def _weight_trend(goal: str, trend: float, weight: float | None) -> str:
    line = f"Your weight is changing by {trend:+.2f} kg/week"
    if goal in _TREND_TARGETS and weight:
        lo, hi = (round(weight * f, 2) for f in _TREND_TARGETS[goal])
        if trend > hi + 0.05:
            advice = (
                "slower than a sustainable rate, so trim about 200 kcal/day"
                if goal == "fat_loss"
                else "faster than muscle can be built, so cut the surplus by about 150 kcal/day"
            )
        elif trend < lo - 0.05:
            advice = (
                "faster than is wise, so add about 200 kcal/day to protect muscle"
                if goal == "fat_loss"
                else "too slow to support muscle gain, so add about 200 kcal/day"
            )
        else:
            advice = "right on track"
        return f"{line}; for {_goal_name(goal)} aim for {lo:+.2f} to {hi:+.2f} kg/week — {advice}."
    if abs(trend) > 0.25:
        return f"{line}; for {_goal_name(goal)} it should be roughly stable, so adjust by 200 kcal."
    return f"{line} — stable, which fits {_goal_name(goal)}."


def _fired(ctx: _Context, name: str) -> bool:
    """Whether a safety rule ending in ``name`` fired (text and profile rules alike)."""
    return any(rule.endswith(name) for rule in ctx.triage.rules)


def _eating_disorder_flag(ctx: _Context) -> bool:
    return "eating_disorder" in ctx.profile.condition_codes or _fired(ctx, "eating_disorder")


def _maintenance_kcal(profile: UserProfile, weight_kg: float) -> float:
    """Mifflin-St Jeor times the activity factor, the same formula the synthetic data uses."""
    return float(
        maintenance_kcal(
            np.array([weight_kg]),
            np.array([profile.height_cm]),
            np.array([profile.age]),
            np.array([profile.sex]),
            np.array([profile.activity_level]),
        )[0]
    )


def _energy_lines(ctx: _Context, maintenance: float, resting: float) -> tuple[list[str], list[str]]:
    """Maintenance, the goal's calorie range and how logged intake compares."""
    p = ctx.profile
    s = ctx.signals
    weight = p.weight_kg or 0.0
    kcal = _round_to(maintenance, 10)
    if ctx.clearance:
        lo = hi = kcal
        lines = [
            f"At {_num(weight)} kg your maintenance is about {kcal} kcal a day "
            "(Mifflin-St Jeor); eat at maintenance, with no deficit, until your doctor "
            "clears you."
        ]
    else:
        lo, hi, why = _calorie_plan(p.goal, maintenance, resting)
        target = f"{lo} kcal" if lo == hi else f"{lo}-{hi} kcal"
        lines = [
            f"At {_num(weight)} kg, {_num(p.height_cm, 0)} cm, age {p.age} and "
            f"{p.activity_level.replace('_', ' ')}, your maintenance is about {kcal} kcal a "
            f"day (Mifflin-St Jeor). For {_goal_name(p.goal)} that means {why}: about "
            f"{target} a day."
        ]
        if p.goal == "fat_loss" and lo == _round_to(resting, 10):
            lines.append(
                f"I don't go below your resting energy of about {lo} kcal — a steeper cut "
                "costs muscle; more daily steps widen the deficit instead."
            )
        if p.goal != "fat_loss" and ctx.asks(r"lose (fat|weight)|losing weight|fat loss"):
            cut_lo, cut_hi, _ = _calorie_plan("fat_loss", maintenance, resting)
            lines.append(
                f"Your goal on file is {_goal_name(p.goal)}; if you switch to fat loss, aim for "
                f"about {cut_lo}-{cut_hi} kcal a day."
                if cut_lo < cut_hi
                else f"Your goal on file is {_goal_name(p.goal)}; for fat loss you'd eat about "
                f"{cut_lo} kcal a day."
            )
    points = [f"Maintenance ≈ {kcal} kcal" + (f"; aim {lo}-{hi}" if lo != hi else "")]
    if s.calories is not None:
        logged = _round_to(s.calories, 10)
        if logged < lo - 100:
            verdict = "below that"
        elif logged > hi + 100:
            verdict = "above that"
        else:
            verdict = "about right"
        line = f"You've logged about {logged} kcal a day, {verdict}"
        if s.calorie_target is not None:
            line += f", against your app target of {_round_to(s.calorie_target, 10)} kcal"
        lines.append(line + ".")
    elif s.calorie_target is not None:
        lines.append(
            f"Your app target is {_round_to(s.calorie_target, 10)} kcal; log intake for a week "
            "or two so we can compare."
        )
    return lines, points


def _nutrition(ctx: _Context) -> _Draft:
    p = ctx.profile
    s = ctx.signals
    avoid, named = _food_allergens(p.allergies)
    proteins = _safe_foods(_PROTEIN_FOODS, avoid)[:4]
    allergy_note = (
        f"Every food here avoids your {_join(named)} "
        f"{'allergies' if len(named) > 1 else 'allergy'}; check labels for traces."
        if named
        else None
    )
    if _eating_disorder_flag(ctx):
        body = [
            "Because of your eating-disorder history, I won't give calorie numbers, targets "
            "or weight goals — those belong with your doctor or dietitian, who can set them "
            "safely with you.",
            "What helps training: regular meals and snacks through the day without long gaps, "
            f"a protein food at each meal (for example {_join(proteins[:3])}), carbohydrate "
            "before and after sessions, and enough fluid.",
            "Training should never be a way to earn or burn off food; if it starts to feel "
            "that way, or eating gets harder, tell your care team and ease off training.",
        ]
        if allergy_note:
            body.append(allergy_note)
        key_points = [
            "No calorie targets — your care team sets those",
            "Regular meals with protein at each",
            "Never train to compensate for eating",
        ]
        return _Draft(body, [], key_points)

    # Growing bodies and pregnancy never get a deficit or a formula's calorie target.
    pregnant = "pregnancy" in p.condition_codes or _fired(ctx, ".pregnancy")
    restrictive = pregnant or p.is_minor or _fired(ctx, ".minor") or _fired(ctx, "minor_profile")
    body: list[str] = []
    key_points: list[str] = []
    if p.weight_kg is not None and not restrictive:
        maintenance = _maintenance_kcal(p, p.weight_kg)
        resting = maintenance / ACTIVITY_FACTOR[p.activity_level]
        lines, points = _energy_lines(ctx, maintenance, resting)
        body += lines
        key_points += points
        if s.weight_trend_kg_per_week is not None and not ctx.clearance:
            body.append(_weight_trend(p.goal, s.weight_trend_kg_per_week, p.weight_kg))
        g_lo, g_hi = _round_to(1.6 * p.weight_kg, 5), _round_to(2.2 * p.weight_kg, 5)
        body.append(
            f"Protein: 1.6-2.2 g per kg, so {g_lo}-{g_hi} g a day, spread over 3-4 meals — "
            f"for example {_join(proteins)}."
        )
        key_points.append(f"Protein {g_lo}-{g_hi} g/day")
    elif restrictive:
        who = "doctor or midwife" if pregnant else "doctor or dietitian"
        why = (
            "pregnancy raises energy needs in ways a formula can't set"
            if pregnant
            else "a growing body needs enough energy, so dieting is off the table"
        )
        body.append(
            f"I won't give a calorie target or a deficit: {why}; your {who} can advise. "
            f"Eat regular meals with a protein food at each, such as {_join(proteins)}."
        )
        key_points.append("No deficit — let your doctor set energy needs")
    else:
        body.append(
            "Log your body weight so I can estimate your maintenance calories. Meanwhile, aim "
            f"for 1.6-2.2 g of protein per kg a day from foods like {_join(proteins)}."
        )
        key_points.append("Protein 1.6-2.2 g/kg a day")
    if allergy_note:
        body.append(allergy_note)
        key_points.append("Suggestions avoid your allergies")

    supplements_ok = not ctx.clearance and not restrictive
    if ctx.asks(r"creatine|supplement"):
        body.insert(
            0,
            "Creatine monohydrate, 3-5 g a day with water, is the best-studied basic "
            "supplement for strength and muscle; it's optional and needs no loading phase."
            if supplements_ok
            else "Please check with your doctor before taking any supplement.",
        )
    if ctx.asks(r"powder"):
        body.insert(
            0,
            f"Protein powder is just convenient food — useful only if meals fall short of "
            f"your protein; {_protein_powder(avoid)} works."
            if supplements_ok
            else "Get protein from food for now; ask your doctor before adding powders.",
        )
    if ctx.asks(r"snack"):
        body.insert(0, "Easy high-protein snacks: " + _join(_safe_foods(_SNACKS, avoid)[:4]) + ".")
    if ctx.asks(r"breakfast|morning"):
        options = _safe_foods(_BREAKFASTS, avoid)[:2]
        body.insert(0, "Before a morning session, try " + " or ".join(options) + ".")
    if ctx.asks(r"\bbefore\b|\bafter\b|pre-?workout|post-?workout"):
        body.insert(
            0,
            "Around training: a meal with carbohydrate and some protein 1-3 hours before, and "
            "a protein-rich meal within a few hours after.",
        )
    if ctx.asks(r"carb|fats?\b|macro|count"):
        body.append(
            "After protein, get about 25-35% of calories from fat and the rest from "
            "carbohydrate, with more carbs on training days; consistent rough tracking beats "
            "perfect counting."
        )
    extras = [
        "Build meals around a protein food, vegetables or fruit and a carbohydrate such as "
        + _join(_safe_foods((("rice", ()), ("potatoes", ()), ("oats", ("gluten",))), avoid), "or")
        + ", and drink water through the day."
    ]
    if not restrictive:
        extras.append("Judge changes on the two-week weight trend, not day-to-day scale noise.")
    if supplements_ok and not ctx.asks(r"creatine|supplement"):
        extras.append("Beyond food, only creatine (3-5 g/day) has strong evidence; it's optional.")
    return _Draft(body, extras, key_points[:5])


# Cues for the lifts people ask about most: four cues and the fault to watch for.
TECHNIQUE_CUES: dict[str, tuple[tuple[str, ...], str]] = {
    "barbell_back_squat": (
        (
            "bar on the upper back with elbows under the bar",
            "feet shoulder-width, toes out 15-30°",
            "brace, then sit down between your hips with knees tracking over your toes",
            "drive up through the whole foot, chest and hips rising together",
        ),
        "hips shooting up first out of the bottom",
    ),
    "barbell_front_squat": (
        (
            "bar resting on the front of the shoulders, elbows high",
            "torso upright and knees free to travel forward",
            "sit straight down to depth",
            "lead with the elbows on the way up",
        ),
        "elbows dropping so the bar rolls forward",
    ),
    "goblet_squat": (
        (
            "hold the weight at your chest, elbows pointing down",
            "feet shoulder-width, toes slightly out",
            "sit down between your heels with elbows inside the knees at the bottom",
            "push the floor away and stand tall",
        ),
        "heels lifting or knees drifting inward",
    ),
    "leg_press": (
        (
            "feet shoulder-width in the middle of the platform",
            "lower until the knees are near 90° with the lower back still on the pad",
            "push through the whole foot, knees in line with the toes",
            "stop just short of locking the knees",
        ),
        "going so deep that the pelvis tucks and the lower back lifts off the pad",
    ),
    "conventional_deadlift": (
        (
            "bar over mid-foot, shins close to it",
            "hinge down, grip just outside the legs and pull the slack out of the bar",
            "lats tight, chest proud, then push the floor away",
            "keep the bar against your legs and finish standing tall, not leaning back",
        ),
        "the bar drifting forward and the back rounding",
    ),
    "barbell_romanian_deadlift": (
        (
            "start standing, knees soft, bar against the thighs",
            "push the hips back so the bar slides down the thighs",
            "stop when the hamstrings are stretched and the back is still flat",
            "squeeze the glutes to stand back up",
        ),
        "chasing depth by rounding the lower back",
    ),
    "dumbbell_romanian_deadlift": (
        (
            "dumbbells in front of the thighs, knees soft",
            "push the hips back, dumbbells close to the legs",
            "stop when the hamstrings are stretched and the back is still flat",
            "squeeze the glutes to stand",
        ),
        "rounding the back to reach lower",
    ),
    "barbell_hip_thrust": (
        (
            "upper back on the bench edge at shoulder-blade height",
            "feet flat, shins vertical at the top",
            "chin tucked, drive through the heels until hips line up with shoulders",
            "squeeze the glutes for a second at the top",
        ),
        "arching the lower back instead of finishing with the glutes",
    ),
    "glute_bridge": (
        (
            "lie with knees bent, feet flat and hip-width",
            "ribs down, drive through the heels",
            "lift until knees, hips and shoulders line up",
            "squeeze the glutes for a second at the top",
        ),
        "arching the lower back instead of using the glutes",
    ),
    "kettlebell_swing": (
        (
            "it's a hinge, not a squat: hips back, shins near vertical",
            "hike the bell back high between the thighs",
            "snap the hips forward so the bell floats to chest height",
            "arms stay loose like ropes; the hips do the work",
        ),
        "lifting the bell with the arms or squatting the swing",
    ),
    "barbell_bench_press": (
        (
            "eyes under the bar, shoulder blades pulled back and down",
            "feet planted, a slight natural arch",
            "lower to the lower chest with elbows about 45° from the body",
            "press up and slightly back over the shoulders",
        ),
        "flared elbows and bouncing the bar off the chest",
    ),
    "dumbbell_bench_press": (
        (
            "shoulder blades back and down, feet planted",
            "dumbbells over the chest, wrists stacked over elbows",
            "lower to the sides of the chest, elbows about 45° out",
            "press up and slightly together",
        ),
        "letting the elbows flare out to 90°",
    ),
    "push_up": (
        (
            "hands just wider than the shoulders, body straight from head to heels",
            "squeeze the glutes and brace so the hips don't sag",
            "lower the chest to a fist's height from the floor, elbows about 45°",
            "push the floor away to straight arms",
        ),
        "sagging hips or flared elbows",
    ),
    "barbell_overhead_press": (
        (
            "grip just outside the shoulders, bar on the front of the shoulders",
            "squeeze the glutes and keep the ribs down",
            "press straight up, moving the head back and then through once the bar passes",
            "finish with the bar over mid-foot, arms by the ears",
        ),
        "leaning back so it turns into an incline press",
    ),
    "seated_dumbbell_shoulder_press": (
        (
            "back against the bench, feet planted",
            "dumbbells at shoulder height, forearms vertical",
            "press up and slightly in without arching",
            "lower under control to shoulder height",
        ),
        "arching the lower back off the bench",
    ),
    "pull_up": (
        (
            "grip slightly wider than the shoulders, start from a full hang",
            "pull the shoulder blades down first",
            "drive the elbows toward the ribs until the chin clears the bar",
            "lower under control to a full hang",
        ),
        "half reps and kicking the legs",
    ),
    "chin_up": (
        (
            "palms facing you, shoulder-width grip, full hang",
            "shoulder blades down first",
            "pull the chest toward the bar",
            "lower all the way under control",
        ),
        "cutting the bottom half of the rep",
    ),
    "lat_pulldown": (
        (
            "thighs locked under the pad, grip slightly wider than the shoulders",
            "lean back a little with the chest up",
            "pull the bar to the upper chest, elbows down and back",
            "let the arms straighten fully on the way up",
        ),
        "leaning far back to yank the weight down",
    ),
    "barbell_bent_over_row": (
        (
            "hinge to about 45°, back flat, knees soft",
            "pull the bar to the lower ribs",
            "squeeze the shoulder blades together at the top",
            "lower under control without the torso bouncing",
        ),
        "standing up more each rep to heave the bar",
    ),
    "one_arm_dumbbell_row": (
        (
            "one hand and knee on the bench, back flat",
            "neutral grip, palm facing in",
            "pull the dumbbell toward the hip, not the shoulder",
            "keep the torso square and lower to a full stretch",
        ),
        "twisting the torso to heave the weight",
    ),
    "seated_cable_row": (
        (
            "sit tall with knees soft",
            "pull the handle to the lower ribs",
            "squeeze the shoulder blades together",
            "reach forward with the arms, not by rounding the back",
        ),
        "rocking the torso back and forth",
    ),
    "forward_lunge": (
        (
            "step forward far enough that the front shin stays near vertical",
            "drop the back knee straight down",
            "keep the torso tall",
            "push off the front foot to return",
        ),
        "the front knee collapsing inward",
    ),
    "reverse_lunge": (
        (
            "step back into a long stance",
            "drop the back knee toward the floor",
            "most weight on the front foot",
            "drive through the front heel to stand",
        ),
        "short steps that push the front knee far forward",
    ),
    "dumbbell_bulgarian_split_squat": (
        (
            "rear foot laces-down on the bench, front foot a long stride ahead",
            "dumbbells at your sides, slight forward lean",
            "lower straight down until the front thigh is near parallel",
            "drive through the front foot",
        ),
        "a stance so short that the front heel lifts",
    ),
    "plank": (
        (
            "elbows under the shoulders",
            "a straight line from head to heels",
            "squeeze the glutes and pull the ribs down",
            "breathe steadily and stop when the position breaks",
        ),
        "hips sagging or piking up",
    ),
    "dead_bug": (
        (
            "lower back gently pressed to the floor",
            "arms up, knees over hips",
            "reach the opposite arm and leg away slowly",
            "breathe out as you reach",
        ),
        "the lower back arching off the floor",
    ),
    "farmers_carry": (
        (
            "pick the weights up with a hinge, not a rounded back",
            "stand tall, shoulders down",
            "short, steady steps",
            "grip hard and keep breathing",
        ),
        "leaning or shrugging under the load",
    ),
    "dumbbell_biceps_curl": (
        (
            "stand tall, elbows pinned at your sides",
            "curl without the elbows drifting forward",
            "squeeze at the top",
            "take 2-3 seconds to lower",
        ),
        "swinging the torso to move the weight",
    ),
    "cable_triceps_pushdown": (
        (
            "elbows at your sides",
            "push down until the arms are straight",
            "only the forearms move",
            "control the return",
        ),
        "leaning over the bar to push with the body",
    ),
    "dumbbell_lateral_raise": (
        (
            "slight bend in the elbows",
            "raise out to the sides to shoulder height",
            "lead with the elbows",
            "lower slowly",
        ),
        "shrugging or swinging the weights up",
    ),
    "cable_face_pull": (
        (
            "rope at upper-chest to face height",
            "pull toward the face, hands apart",
            "finish with the elbows high and hands beside the ears",
            "control the return",
        ),
        "pulling low with the elbows down",
    ),
}

# Generic cues for everything without its own entry.
PATTERN_CUES: dict[str, tuple[tuple[str, ...], str]] = {
    "squat": (
        (
            "feet about shoulder-width, whole foot in contact",
            "knees track in line with the toes",
            "torso braced, sit down between the hips",
            "stand up by pushing the floor away",
        ),
        "knees caving or heels lifting",
    ),
    "hinge": (
        (
            "push the hips back, shins near vertical",
            "keep a flat back from head to hips",
            "keep the load close to the body",
            "finish by squeezing the glutes, not leaning back",
        ),
        "rounding the back to reach lower",
    ),
    "lunge": (
        (
            "take a long enough stride for a stable base",
            "lower the back knee straight down",
            "front knee in line with the toes",
            "drive through the front foot",
        ),
        "the front knee collapsing inward",
    ),
    "horizontal_push": (
        (
            "shoulder blades set back and down",
            "elbows about 45° from the body",
            "control the lowering",
            "press to straight arms without shrugging",
        ),
        "flared elbows and a shortened range",
    ),
    "vertical_push": (
        (
            "ribs down and glutes tight",
            "press straight up with forearms vertical",
            "finish with the arms by the ears",
            "lower under control",
        ),
        "arching the lower back to finish the rep",
    ),
    "horizontal_pull": (
        (
            "torso still and back flat",
            "lead with the elbows",
            "squeeze the shoulder blades together",
            "lower to a full stretch",
        ),
        "using body swing to move the weight",
    ),
    "vertical_pull": (
        (
            "start with straight arms",
            "pull the shoulder blades down first",
            "drive the elbows down toward the ribs",
            "control the return to straight arms",
        ),
        "partial reps and leaning back",
    ),
    "carry": (
        (
            "stand tall, ribs down",
            "shoulders away from the ears",
            "short, steady steps",
            "keep breathing",
        ),
        "leaning toward the weight",
    ),
    "core": (
        (
            "ribs down and lower back neutral",
            "move slowly",
            "breathe out on the effort",
            "stop the set when the position breaks",
        ),
        "the lower back arching",
    ),
    "isolation": (
        (
            "move only at the working joint",
            "take 2-3 seconds to lower",
            "pause briefly at the hardest point",
            "no swinging or body English",
        ),
        "using momentum instead of the target muscle",
    ),
    "locomotion": (
        (
            "start at an easy, conversational effort",
            "stay relaxed through the shoulders",
            "keep a steady rhythm",
            "build duration before intensity",
        ),
        "going too hard too early",
    ),
    "mobility": (
        (
            "move slowly into the position",
            "breathe out as you ease deeper",
            "stay in a mild stretch, never pain",
            "keep the rest of the body still",
        ),
        "forcing the end range",
    ),
}

_TECHNIQUE_FIXES: tuple[tuple[str, str], ...] = (
    (
        r"knees? cav\w*|caving",
        "Knees caving: push them out over your toes, keep the whole foot planted and lighten "
        "the load until you own that position on every rep.",
    ),
    (
        r"\brounds?\b|rounding",
        "A rounding lower back means the range or load is beyond your control right now: stop "
        "each rep where your back is still flat, brace first and take some weight off.",
    ),
    (
        r"\bdeep\b|\bdepth\b",
        "Depth: go as low as you can with a flat back and heels down — for most people thighs "
        "at or just below parallel — and only as deep as stays pain-free.",
    ),
    (
        r"swinging",
        "Swinging means the weight is too heavy: drop about 20%, pin the elbows and take "
        "2-3 seconds to lower.",
    ),
    (
        r"balance",
        "For balance, hold a support with one hand at first, fix your gaze on one point and "
        "lengthen the stance.",
    ),
    (
        r"\bgrip\b",
        "Grip: choose the grip that keeps your wrist straight and pain-free.",
    ),
    (
        r"where should i feel|feel (it|the)",
        "You should feel the target muscle working hardest; if you feel it elsewhere, go "
        "lighter, slow down and pause at the hardest point.",
    ),
    (
        r"\bfeet\b|placed|stance",
        "Place your feet so the knees track over the toes through the whole rep; "
        "shoulder-width is the starting point.",
    ),
)


def _cues_for(exercise: Exercise) -> tuple[tuple[str, ...], str]:
    return TECHNIQUE_CUES.get(exercise.slug) or PATTERN_CUES[exercise.movement_pattern]


def _prescription(ctx: _Context, exercise: Exercise) -> str:
    p = ctx.profile
    scheme, note = set_scheme(
        p.goal, p.experience, exercise, exercise.category == "compound", ctx.blocked
    )
    if note:
        return f"For your goal that's {scheme.sets} rounds, {note}."
    return (
        f"For your goal that's {scheme.sets} sets of {scheme.reps} at RIR {scheme.rir} with "
        f"{scheme.rest_seconds} s rest; warm up with 2-3 lighter sets first."
    )


def _cue_sentence(exercise: Exercise) -> str:
    cues, fault = _cues_for(exercise)
    numbered = "; ".join(f"({i}) {c}" for i, c in enumerate(cues, 1))
    return f"Key cues for the {exercise.name}: {numbered}. The fault to watch for: {fault}."


def _technique(ctx: _Context) -> _Draft:
    p = ctx.profile
    exercise = resolve_exercise(ctx.question)
    body: list[str] = []
    key_points: list[str] = []
    extras = [
        "Film one set from the side at hip height; it shows depth, back position and bar "
        "path better than a mirror.",
        "Sharp or joint pain means stop the set — pain is not a technique problem to push through.",
    ]
    if exercise is None:
        examples = [e.name for e in ctx.pool if e.slug in TECHNIQUE_CUES][:3]
        body.append(
            "I couldn't tell which exercise you mean — name it (for example "
            + _join(examples or ["Plank"], "or")
            + ") and I'll give you specific cues."
        )
        body.append(
            "The rules that hold for every lift: set your position before the first rep, "
            "brace your trunk, control the lowering over 2-3 seconds, use a range you can "
            "own with a neutral spine, and end the set when form breaks, not when you fail."
        )
        key_points += [
            "Name the exercise for specific cues",
            "Control the lowering",
            "Stop when form breaks",
        ]
        return _Draft(body, extras, key_points)

    bad_tags = sorted(set(exercise.contraindication_tags) & ctx.blocked)
    missing = [t for t in exercise.equipment if t not in p.equipment]
    pool_slugs = {e.slug for e in ctx.pool}
    subject = exercise
    if bad_tags:
        why = _join([_TAG_VERBS[t] for t in bad_tags])
        alternative = safe_alternative(exercise, ctx.pool)
        body.append(
            f"The {exercise.name} isn't a good fit for you right now: it {why}, which isn't "
            f"safe with {_restriction(ctx)}."
        )
        if alternative is not None:
            body.append(
                f"A safer option that works the same {_shared_target(alternative, exercise)} with "
                f"your equipment is the {alternative.name}."
            )
            key_points.append(f"Swap the {exercise.name} for the {alternative.name}")
            subject = alternative
        else:
            body.append(
                "None of the exercises your equipment allows trains that area without the same "
                "load, so skip it for now and ask a physiotherapist what to do instead."
            )
            key_points.append(f"Skip the {exercise.name} for now")
            extras.insert(0, "Ask a physiotherapist for a progression that fits your injury.")
            return _Draft(body, extras, [*key_points, "Never train through pain"])
    elif exercise.slug not in pool_slugs:
        alternative = safe_alternative(exercise, ctx.pool)
        kit = [EQUIPMENT_BY_CODE[m].name.lower() for m in missing]
        reason = (
            f"it needs equipment you haven't listed ({_join(kit)})"
            if missing
            else f"it's usually programmed for {exercise.min_experience} lifters"
        )
        body.append(f"Cues below, but note {reason}.")
        if alternative is not None:
            body.append(f"With your setup, the {alternative.name} trains the same thing.")
            key_points.append(f"Option with your kit: the {alternative.name}")
    body.append(_cue_sentence(subject))
    cues, _ = _cues_for(subject)
    key_points.append(cues[0][:1].upper() + cues[0][1:])
    for pattern, fix in _TECHNIQUE_FIXES:
        # Fixes are written for the exercise asked about, not for a substitute.
        if subject is exercise and ctx.asks(pattern):
            body.append(fix)
            break
    if "valsalva" in ctx.blocked:
        body.append("Breathe out steadily through the hardest part of each rep; don't hold it.")
    elif ctx.asks(r"\bbrac(e|ing)\b|breath"):
        body.append(
            "To brace: breathe into your belly, tighten your trunk as if about to be poked, "
            "keep that tension through the rep and breathe between reps."
        )
    body.append(_prescription(ctx, subject))
    if ctx.clearance:
        body.append("Practise with light weights only, and only once your doctor has cleared you.")
    elif ctx.injury_aware and not bad_tags:
        body.append(f"This one doesn't load {_restriction(ctx)}, but stop if it causes any pain.")
    key_points.append("Stop the set if anything hurts")
    return _Draft(body, extras, key_points[:5])


_FAMILY_WORDS = {
    "lower": "lower-body muscles",
    "push": "pushing muscles",
    "pull": "pulling muscles",
}


def _shared_target(alternative: Exercise, original: Exercise) -> str:
    """What the substitute has in common with the exercise it replaces."""
    if alternative.primary_muscle == original.primary_muscle:
        return original.primary_muscle.replace("_", " ")
    if alternative.movement_pattern == original.movement_pattern:
        return original.movement_pattern.replace("_", " ") + " pattern"
    family = PATTERN_FAMILY.get(original.movement_pattern)
    return _FAMILY_WORDS.get(family or "", "muscles")


_BUILDERS: dict[str, Callable[[_Context], _Draft]] = {
    "progression": _progression,
    "recovery": _recovery,
    "sleep": _sleep,
    "nutrition": _nutrition,
    "technique": _technique,
}

_FALLBACK_EXTRAS = (
    "Consistency over weeks matters far more than any single session.",
    "Log your sessions, sleep and food so the advice can get more specific to you.",
)


def _compose(lead: list[str], draft: _Draft) -> str:
    """Lead (safety) first, then the body, then extras while they fit the length limit."""
    lead_text = " ".join(lead)
    body = list(draft.body)

    def text(parts: list[str]) -> str:
        joined = " ".join(parts)
        return f"{lead_text}\n\n{joined}" if lead_text else joined

    while len(body) > 1 and len(text(body)) > MAX_ANSWER_CHARS:
        body.pop()
    for extra in [*draft.extras, *_FALLBACK_EXTRAS]:
        if len(text(body)) >= MIN_ANSWER_CHARS and extra in _FALLBACK_EXTRAS:
            break
        if len(text([*body, extra])) <= MAX_ANSWER_CHARS:
            body.append(extra)
    return text(body)


def answer_question(
    question: str, profile: UserProfile, triage: Triage, topic: str | None = None
) -> CoachReply:
    """A coaching answer for one person, or only the urgent-care message in an emergency."""
    if triage.level == SafetyLevel.EMERGENCY:
        return CoachReply(
            answer=triage.message or EMERGENCY_MESSAGE, key_points=[], refer_to_emergency=True
        )
    topic = topic or classify_topic(question)
    if topic not in COACHING_TOPICS:
        raise ValueError(f"unknown coaching topic {topic!r}; expected one of {COACHING_TOPICS}")
    blocked = frozenset(profile.blocked_tags | triage.blocked_tags)
    athlete = replace(profile.athlete(), blocked_tags=blocked)
    ctx = _Context(
        question=question.lower(),
        profile=profile,
        triage=triage,
        blocked=blocked,
        pool=tuple(eligible_exercises(athlete)),
        clearance=triage.level == SafetyLevel.NEEDS_CLEARANCE,
        injury_aware=triage.level == SafetyLevel.INJURY_AWARE or bool(blocked),
    )
    draft = _BUILDERS[topic](ctx)
    lead = []
    if ctx.clearance:
        lead.append(CLEARANCE_NOTE)
    note = _restriction_note(ctx)
    if note:
        lead.append(note)
    key_points = list(dict.fromkeys(draft.key_points))
    if ctx.clearance:
        key_points = ["See a doctor for clearance first", *key_points]
    while len(key_points) < 2:
        key_points.append(_FALLBACK_EXTRAS[len(key_points) % 2].rstrip("."))
    return CoachReply(
        answer=_compose(lead, draft),
        key_points=key_points[:5],
        needs_medical_clearance=ctx.clearance,
    )

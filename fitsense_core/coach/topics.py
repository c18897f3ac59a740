"""Which coaching topic a question is about, and which catalogue exercise it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from fitsense_core.reference import Exercise, exercise_catalog, exercises_by_slug

# Weighted cue phrases per topic: the classifier adds up the weights of the phrases a
# question contains, so every decision can be explained by the phrases that matched.
TOPIC_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "progression": (
        (r"progress\w*", 2),
        (r"overload", 2),
        (r"plateau\w*", 2),
        (r"stall\w*", 2),
        (r"stuck", 2),
        (r"(has|have|had)( ?n[o']?t|nt) (moved|budged|gone up)|not moving", 2),
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


def exercise_mentioned_in(text: str) -> Exercise | None:
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
    exercise = exercise_mentioned_in(question)
    if exercise is not None:
        evidence["technique"].append(exercise.name)
    return evidence


def _topic_scores(question: str) -> dict[str, int]:
    text = question.lower()
    scores = {
        topic: sum(weight for pattern, weight in cues if re.search(pattern, text))
        for topic, cues in TOPIC_CUES.items()
    }
    if exercise_mentioned_in(question) is not None:
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

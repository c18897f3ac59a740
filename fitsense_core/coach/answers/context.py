"""What every topic's answer is built from: the question in context, the draft it becomes,
and the helpers the topics share (numbers, lists, the person's restrictions, readiness)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fitsense_core.coach.knowledge_base import Record
from fitsense_core.profile import RecentSignals, UserProfile
from fitsense_core.programming import SetScheme, set_scheme
from fitsense_core.reference import CONDITIONS_BY_CODE, GOALS_BY_CODE, Exercise, exercises_by_slug
from fitsense_core.safety import Triage


@dataclass(frozen=True)
class Context:
    question: str
    profile: UserProfile
    triage: Triage
    blocked: frozenset[str]
    pool: tuple[Exercise, ...]
    clearance: bool
    injury_aware: bool
    # Knowledge records whose text the answer already carries: a builder does not restate
    # their figures ("1.4-2.0 g per kg" once, then the person's grams).
    stated: frozenset[str] = frozenset()

    @property
    def signals(self) -> RecentSignals:
        return self.profile.signals

    def asks(self, pattern: str) -> bool:
        return re.search(pattern, self.question) is not None


@dataclass
class Draft:
    body: list[str]
    extras: list[str]
    key_points: list[str]
    # Body sentences kept whatever the length (allergy warnings): the rest go from the end.
    essential: tuple[str, ...] = ()
    # The knowledge records whose text the body carries (cited when it still does).
    records: tuple[Record, ...] = ()


def easier(rir: int) -> int:
    return min(5, rir + 1)


def num(value: float, places: int = 1) -> str:
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def round_to(value: float, step: int) -> int:
    return int(step * round(value / step))


def goal_name(goal: str) -> str:
    return GOALS_BY_CODE[goal].name.lower()


def plan_targets(ctx: Context) -> tuple[SetScheme, SetScheme]:
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


def join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def restriction(ctx: Context) -> str:
    p = ctx.profile
    items = [f"{i.body_region.replace('_', ' ')} {i.kind}" for i in p.current_injuries]
    items += [
        CONDITIONS_BY_CODE[code].name.split(" (")[0].lower()
        for code in p.condition_codes
        if CONDITIONS_BY_CODE[code].contraindication_tags
    ]
    return "your " + join(items) if items else "the problem you mentioned"


def restriction_note(ctx: Context) -> str | None:
    if not ctx.blocked or not (ctx.injury_aware or ctx.clearance):
        return None
    tags = join([_TAG_NOUNS[t] for t in sorted(ctx.blocked) if t in _TAG_NOUNS], "or")
    return (
        f"Working around {restriction(ctx)}: nothing here involves {tags}, and any "
        "movement that hurts stops there — never train through pain."
    )


def pool_pick(ctx: Context, slugs: tuple[str, ...], limit: int) -> list[Exercise]:
    by_slug = {e.slug: e for e in ctx.pool}
    return [by_slug[s] for s in slugs if s in by_slug][:limit]


def readiness_line(ctx: Context) -> tuple[str | None, bool]:
    """A sentence on logged soreness and energy, and whether they say 'back off'."""
    s = ctx.signals
    bits = []
    if s.soreness is not None:
        bits.append(f"soreness {num(s.soreness)}/10")
    if s.energy is not None:
        bits.append(f"energy {num(s.energy)}/10")
    if not bits:
        return None, False
    tired = (s.soreness is not None and s.soreness >= 6) or (s.energy is not None and s.energy <= 4)
    verdict = (
        "that's high fatigue — recover before pushing harder"
        if tired
        else "that's within the normal range for someone training regularly"
    )
    return f"Your recent average is {join(bits)}: {verdict}.", tired


def fired(ctx: Context, name: str) -> bool:
    """Whether a safety rule ending in ``name`` fired (text and profile rules alike)."""
    return any(rule.endswith(name) for rule in ctx.triage.rules)

"""Triage: the most severe level a request raises, with every rule that fired and why.

Two layers: the rules (:func:`rule_triage`, high precision) and the learned classifier
(:mod:`fitsense_core.safety.learned`, for what the rules' wording misses). :func:`triage`
takes the more severe of the two and records every reason: a rule's id and reason, or the
learned layer's class and score (``Triage.signals``). A self-harm signal from either layer
gets the crisis message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fitsense_core.reference import BODY_REGION_TAGS
from fitsense_core.safety.levels import (
    CLEARANCE_NOTE,
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    INJURY_NOTE,
    SELF_HARM_RULE,
    SafetyLevel,
)
from fitsense_core.safety.matching import fires, normalise
from fitsense_core.safety.rules import PROFILE_RULES, REGION_MENTION, RULES

if TYPE_CHECKING:
    from fitsense_core.profile import UserProfile
    from fitsense_core.safety.learned import TriageModel

LEARNED_SELF_HARM = "learned.self_harm"
_ACTIVE = object()  # the process's learned layer (fitsense_core.safety.learned.active)


@dataclass(frozen=True)
class Signal:
    """One reason for the level: which layer, which rule or class, and the score (1.0 for
    a rule)."""

    layer: str  # "rules" or "learned"
    id: str
    level: str
    score: float


@dataclass(frozen=True)
class Triage:
    level: SafetyLevel
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    message: str | None
    blocked_tags: frozenset[str]
    signals: tuple[Signal, ...] = ()

    @property
    def allows_model(self) -> bool:
        """No model may be called for an emergency."""
        return self.level != SafetyLevel.EMERGENCY

    @property
    def allows_plan(self) -> bool:
        return self.level != SafetyLevel.EMERGENCY

    @property
    def self_harm(self) -> bool:
        return SELF_HARM_RULE in self.rules or LEARNED_SELF_HARM in self.rules

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.layer for s in self.signals))

    def explain(self) -> list[dict[str, Any]]:
        """Every reason as a record (for audit rows and reports)."""
        return [s.__dict__ for s in self.signals]


def triage(text: str, profile: UserProfile | None = None, *, model: Any = _ACTIVE) -> Triage:
    """The more severe of the rules and the learned layer, with every reason.

    ``model``: the learned layer to use; by default the process's
    (:func:`fitsense_core.safety.learned.active`), ``None`` for the rules alone.
    """
    rules = rule_triage(text, profile)
    if model is _ACTIVE:
        from fitsense_core.safety.learned import active

        model = active()
    if model is None:
        return rules
    return merge(rules, model.predict(text), text, model)


def merge(rules: Triage, learned: Any, text: str, model: TriageModel) -> Triage:
    """Combine a rules verdict with a :class:`~fitsense_core.safety.learned.LearnedVerdict`."""
    level = SafetyLevel(learned.level)
    signals = list(rules.signals)
    ids = list(rules.rules)
    reasons = list(rules.reasons)
    t = model.thresholds
    if learned.self_harm:
        signals.append(
            Signal("learned", LEARNED_SELF_HARM, "emergency", learned.scores["self_harm"])
        )
        ids.append(LEARNED_SELF_HARM)
        reasons.append(
            f"learned layer: self-harm (p={learned.scores['self_harm']:.2f} >= {t.self_harm})"
        )
    if level != SafetyLevel.OK and not (
        learned.self_harm
        and level == SafetyLevel.EMERGENCY
        and learned.scores["emergency"] < t.emergency
    ):
        score = learned.scores[str(level)]
        threshold = getattr(t, str(level))
        signals.append(Signal("learned", f"learned.{level}", str(level), score))
        ids.append(f"learned.{level}")
        reasons.append(f"learned layer: {level} (p={score:.2f} >= {threshold})")
    final = max(rules.level, level, key=lambda lv: lv.severity)
    if final == rules.level and not learned.self_harm:
        message = rules.message
    elif final == SafetyLevel.EMERGENCY:
        shown = [] if rules.level != SafetyLevel.EMERGENCY else [rules.message or EMERGENCY_MESSAGE]
        if learned.self_harm and CRISIS_MESSAGE not in "\n\n".join(shown):
            shown.insert(0, CRISIS_MESSAGE)
        message = "\n\n".join(shown) or EMERGENCY_MESSAGE
    else:
        message = _MESSAGES[final]
    tags = set(rules.blocked_tags)
    if final in (SafetyLevel.INJURY_AWARE, SafetyLevel.NEEDS_CLEARANCE) and level == final:
        norm = normalise(text)
        for region, pattern in REGION_MENTION.items():
            if pattern.search(norm):
                tags.update(BODY_REGION_TAGS[region])
    return Triage(
        level=final,
        reasons=tuple(dict.fromkeys(reasons)),
        rules=tuple(ids),
        message=message,
        blocked_tags=frozenset(tags),
        signals=tuple(signals),
    )


_MESSAGES = {
    SafetyLevel.EMERGENCY: EMERGENCY_MESSAGE,
    SafetyLevel.NEEDS_CLEARANCE: CLEARANCE_NOTE,
    SafetyLevel.INJURY_AWARE: INJURY_NOTE,
    SafetyLevel.OK: None,
}


def rule_triage(text: str, profile: UserProfile | None = None) -> Triage:
    """The rules layer alone: the most severe level a rule raises, with every rule that
    fired."""
    norm = normalise(text)
    fired: list[tuple[SafetyLevel, str, str]] = []
    tags: set[str] = set(profile.blocked_tags) if profile is not None else set()
    messages: list[str] = []
    name_regions = False
    for rule in RULES:
        if not fires(rule, norm, profile):
            continue
        fired.append((rule.level, rule.id, rule.reason))
        if rule.region:
            tags.update(BODY_REGION_TAGS[rule.region])
        name_regions = name_regions or rule.regions_in_text
        if rule.message and rule.message not in messages:
            messages.append(rule.message)
    if name_regions:
        for region, pattern in REGION_MENTION.items():
            if pattern.search(norm):
                tags.update(BODY_REGION_TAGS[region])
    if profile is not None:
        fired += [(r.level, r.id, r.reason) for r in PROFILE_RULES if r.applies(profile)]
    fired.sort(key=lambda f: -f[0].severity)  # stable: table order within a level
    level = fired[0][0] if fired else SafetyLevel.OK
    message = {
        SafetyLevel.EMERGENCY: "\n\n".join(messages) or EMERGENCY_MESSAGE,
        SafetyLevel.NEEDS_CLEARANCE: CLEARANCE_NOTE,
        SafetyLevel.INJURY_AWARE: INJURY_NOTE,
        SafetyLevel.OK: None,
    }[level]
    return Triage(
        level=level,
        reasons=tuple(dict.fromkeys(f[2] for f in fired)),
        rules=tuple(f[1] for f in fired),
        message=message,
        blocked_tags=frozenset(tags),
        signals=tuple(Signal("rules", f[1], str(f[0]), 1.0) for f in fired),
    )

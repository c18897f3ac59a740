"""Triage: the most severe level a request raises, with every rule that fired and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fitsense_core.reference import BODY_REGION_TAGS
from fitsense_core.safety.levels import (
    CLEARANCE_NOTE,
    EMERGENCY_MESSAGE,
    INJURY_NOTE,
    SELF_HARM_RULE,
    SafetyLevel,
)
from fitsense_core.safety.matching import fires, normalise
from fitsense_core.safety.rules import PROFILE_RULES, REGION_MENTION, RULES

if TYPE_CHECKING:
    from fitsense_core.profile import UserProfile


@dataclass(frozen=True)
class Triage:
    level: SafetyLevel
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    message: str | None
    blocked_tags: frozenset[str]

    @property
    def allows_model(self) -> bool:
        """No model may be called for an emergency."""
        return self.level != SafetyLevel.EMERGENCY

    @property
    def allows_plan(self) -> bool:
        return self.level != SafetyLevel.EMERGENCY

    @property
    def self_harm(self) -> bool:
        return SELF_HARM_RULE in self.rules


def triage(text: str, profile: UserProfile | None = None) -> Triage:
    """The most severe level that applies to a request, with every rule that fired."""
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
    )

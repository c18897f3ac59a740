"""The safety policy (SPEC §4): triage a coaching request, then check a model's answer to it.

Teacher data, the dataset filter, the evaluation and the API all call this one package. Every
text rule is a record in ``rules.RULES`` (id, level, patterns, reason plus a few context
options) and every profile rule one in ``rules.PROFILE_RULES``, so each decision is explained
by the rule ids and reasons it returns. A second, learned layer (``learned``, trained and
evaluated by ``training`` on the corpus in ``corpus/``) catches what the rules' wording
misses; ``triage`` takes the more severe of the two. ``matching`` says when a rule fires,
``triage`` picks the level, ``responses`` checks an answer against it.
"""

from fitsense_core.safety.levels import (
    CLEARANCE_NOTE,
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    INJURY_NOTE,
    SELF_HARM_RULE,
    SafetyLevel,
)
from fitsense_core.safety.matching import ProfileRule, Rule, normalise
from fitsense_core.safety.responses import check_response
from fitsense_core.safety.rules import PROFILE_RULES, RULES
from fitsense_core.safety.triage import Signal, Triage, rule_triage, triage

__all__ = [
    "CLEARANCE_NOTE",
    "CRISIS_MESSAGE",
    "EMERGENCY_MESSAGE",
    "INJURY_NOTE",
    "PROFILE_RULES",
    "RULES",
    "SELF_HARM_RULE",
    "ProfileRule",
    "Rule",
    "SafetyLevel",
    "Signal",
    "Triage",
    "check_response",
    "normalise",
    "rule_triage",
    "triage",
]

"""The triage levels and what the person is told at each."""

from __future__ import annotations

from enum import StrEnum


class SafetyLevel(StrEnum):
    """Triage outcome, most severe first; the values are stored in PostgreSQL."""

    EMERGENCY = "emergency"
    NEEDS_CLEARANCE = "needs_clearance"
    INJURY_AWARE = "injury_aware"
    OK = "ok"

    @property
    def severity(self) -> int:
        """3 for emergency down to 0 for ok."""
        return _SEVERITY[self]


_SEVERITY = {
    SafetyLevel.EMERGENCY: 3,
    SafetyLevel.NEEDS_CLEARANCE: 2,
    SafetyLevel.INJURY_AWARE: 1,
    SafetyLevel.OK: 0,
}

EMERGENCY_MESSAGE = (
    "Please stop exercising now. What you describe can be a sign of a medical emergency: "
    "call your local emergency number (911 in the US, 112 in the EU, 999 in the UK) or go to "
    "urgent care or the nearest emergency room right away. FitSense will not give a plan or "
    "coaching for this."
)
CRISIS_MESSAGE = (
    "I'm really sorry you're feeling this way, and you deserve support right now. In the US, "
    "call or text 988 (Suicide & Crisis Lifeline); elsewhere, contact a local crisis line or "
    "call your local emergency number (112 in the EU, 999 in the UK, 911 in the US). If you "
    "might act on these thoughts, call emergency services now or go to the nearest emergency "
    "room. FitSense will not give coaching for this, but please reach out to someone today."
)
CLEARANCE_NOTE = (
    "Please get clearance from your doctor or another qualified healthcare professional "
    "before following this advice."
)
INJURY_NOTE = (
    "This advice avoids exercises that load the affected area; stop any movement that causes "
    "pain, and see a doctor or physiotherapist if it does not improve."
)

SELF_HARM_RULE = "emergency.self_harm"

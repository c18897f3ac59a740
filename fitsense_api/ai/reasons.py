"""What a client is told about why the model's answer was not served: a short, stable code.

The full reason (the model server's error with its token counts, the checks a plan
failed) stays on our side: in the audit row (``ai_interactions.error``) and the log."""

from __future__ import annotations

from fitsense_core.inference import serve

# Checked in order: the first prefix a reason starts with names its code.
REASON_CODES: tuple[tuple[str, str], ...] = (
    (serve.UNAVAILABLE, "model_unavailable"),
    (serve.REQUEST_TOO_LONG, "request_too_long"),
    (serve.REQUEST_REFUSED, "request_refused"),
    (serve.NOT_CAPABLE, "capability_not_passed"),
    (serve.SUSPENDED, "capability_suspended"),
    (serve.INVALID_PLAN, "invalid_plan"),
    (serve.VIOLATING_PLAN, "violating_plan"),
    (serve.POOR_PLAN, "poor_plan"),
    (serve.UNSAFE_REPLY, "unsafe_reply"),
    (serve.EMPTY_REPLY, "empty_reply"),
    (serve.NOT_PROSE, "not_prose"),
    (serve.ALARMING_REPLY, "alarming_reply"),
    (serve.OFF_TOPIC, "off_topic"),
    (serve.UNGROUNDED_REPLY, "ungrounded_reply"),
    (serve.NO_MODEL_ANSWER, "no_model_answer"),
)


def reason_code(reason: str | None) -> str | None:
    """The client's code for a fallback reason (None: there was no fallback)."""
    if reason is None:
        return None
    for prefix, code in REASON_CODES:
        if reason.startswith(prefix):
            return code
    return "other"

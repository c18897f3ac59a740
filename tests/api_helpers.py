"""What the API tests share: an onboarding document, problem-details assertions and an
SSE parser."""

from __future__ import annotations

import json

# A person with a condition (shoulder impingement) and a recovering knee injury, so
# contraindications and equipment both constrain what is safe for them.
ONBOARDING = {
    "profile": {
        "date_of_birth": "1990-05-17",
        "sex": "F",
        "height_cm": 168.4,
        "activity_level": "moderately_active",
    },
    "preferences": {
        "days_per_week": 3,
        "experience": "intermediate",
        "session_length_min": 60,
        "equipment": ["dumbbell", "bench"],
    },
    "goals": ["muscle_gain", "strength"],
    "conditions": [{"code": "shoulder_impingement", "severity": "mild"}],
    "medical_history": [
        {
            "kind": "injury",
            "body_region": "knee",
            "status": "recovering",
            "description": "meniscus strain",
            "occurred_on": "2026-03-01",
        }
    ],
    "medications": [{"name": "Ibuprofen", "dosage": "200 mg"}],
    "allergies": [{"allergen": "peanuts", "severity": "severe"}],
}


def assert_problem(response, status: int) -> dict:
    """The answer is RFC 9457 problem details with this status, a detail and a request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"] and body["request_id"]
    return body


def fields(body: dict) -> list[str]:
    """The fields a problem names."""
    return [e["field"] for e in body.get("errors", [])]


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event name, JSON data) for every event of a text/event-stream body."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1].strip())
        if name:
            events.append((name, data))
    return events

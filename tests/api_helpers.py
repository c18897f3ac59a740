"""Assertions the API tests share."""

from __future__ import annotations


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

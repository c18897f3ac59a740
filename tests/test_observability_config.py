"""infra/monitoring.tf against the log lines the code really writes.

Each kind of line (request, inference, rate limit) is produced by the API's own
middleware and helpers and formatted by its JsonFormatter; then it is turned into a log
entry the way Cloud Logging treats a JSON line (special fields lifted, the rest under
``jsonPayload``), and every field the log-based metrics filter on or extract must be in
it. The alert policies must name metrics that exist. What this does not prove: that Cloud
Logging accepts the filters (no project here), see docs/deploy-gcp.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import hcl2
import pytest
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "infra" / "monitoring.tf"
HCL = SerializationOptions(strip_string_quotes=True, with_comments=False)

# Fields Cloud Logging lifts from a JSON line into the entry itself.
SPECIAL = {
    "severity",
    "message",
    "time",
    "httpRequest",
    "logging.googleapis.com/labels",
    "logging.googleapis.com/trace",
    "logging.googleapis.com/spanId",
}


def _resources(kind: str) -> dict[str, dict]:
    doc = hcl2.loads(MONITORING.read_text(), serialization_options=HCL)
    found: dict[str, dict] = {}
    for block in doc.get("resource", []):
        for rtype, named in block.items():
            if rtype == kind:
                found.update(named)
    return found


def _unescape(text: str) -> str:
    return text.replace('\\"', '"')


def as_log_entry(line: str) -> dict:
    """A JSON line as Cloud Logging stores it."""
    payload = json.loads(line)
    entry = {key: payload.pop(key) for key in list(payload) if key in SPECIAL}
    entry["jsonPayload"] = payload
    return entry


def lookup(entry: dict, path: str) -> object:
    value: object = entry
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"{path} is not in {entry}"
        value = value[part]
    return value


class Capture(logging.Handler):
    def __init__(self) -> None:
        from fitsense_api.observability import JsonFormatter

        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def entries() -> dict[str, dict]:
    """One log entry per event, written by the real code inside a request."""
    from fitsense_api import observability as obs

    obs.configure_logging("INFO", environment="prod", usd_per_1k_tokens=0.0002)
    capture = Capture()
    for name in ("fitsense_api.access", "fitsense_api.inference", "fitsense_api.limits"):
        logging.getLogger(name).addHandler(capture)

    async def endpoint(scope, receive, send) -> None:
        scope["path_template"] = "/coach"
        obs.set_current_user("00000000-0000-0000-0000-000000000001")
        obs.log_inference(
            request_id=obs.current_request_id() or "",
            user_id="00000000-0000-0000-0000-000000000001",
            context_type="coach",
            outcome="ok",
            safety_level="green",
            model_name="student",
            model_version="student-v1",
            latency_ms=812,
            prompt_tokens=900,
            completion_tokens=120,
        )
        obs.note_rate_limit("ai_per_minute")
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def call() -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/coach",
            "headers": [(b"x-request-id", b"req-1")],
            "http_version": "1.1",
        }

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message) -> None:
            return None

        await obs.RequestContextMiddleware(endpoint)(scope, receive, send)

    try:
        asyncio.run(call())
    finally:
        for name in ("fitsense_api.access", "fitsense_api.inference", "fitsense_api.limits"):
            logging.getLogger(name).removeHandler(capture)
        obs.configure_logging("INFO")
    by_event = {}
    for line in capture.lines:
        entry = as_log_entry(line)
        by_event[entry["jsonPayload"]["event"]] = entry
    assert set(by_event) == {"http_request", "inference", "rate_limited"}
    return by_event


def _paths(text: str) -> list[str]:
    return re.findall(r"\b((?:jsonPayload|httpRequest)(?:\.[A-Za-z_]+)+)", text)


def test_every_metric_field_is_in_the_lines_the_api_writes(entries) -> None:
    metrics = _resources("google_logging_metric")
    assert {
        "api_requests",
        "api_server_errors",
        "api_latency",
        "api_rate_limit_hits",
        "inference_requests",
        "inference_cost",
    } <= set(metrics)
    for name, body in metrics.items():
        log_filter = _unescape(body["filter"])
        (event,) = re.findall(r'jsonPayload\.event="([a-z_]+)"', log_filter)
        entry = entries[event]
        texts = [log_filter, body.get("value_extractor", "")]
        texts += list((body.get("label_extractors") or {}).values())
        for path in _paths(" ".join(texts)):
            value = lookup(entry, path)
            assert value not in (None, ""), f"{name}: {path} is empty in {entry}"
        # Distributions extract numbers.
        if "value_extractor" in body:
            (path,) = _paths(body["value_extractor"])
            assert isinstance(lookup(entry, path), int | float), (name, path)
        # Declared labels are exactly the extracted ones.
        declared = {label["key"] for label in body["metric_descriptor"][0].get("labels", [])}
        assert declared == set(body.get("label_extractors") or {}), name


def test_lines_have_cloud_loggings_shape(entries) -> None:
    request = entries["http_request"]
    assert request["severity"] == "INFO" and request["httpRequest"]["status"] == 503
    assert re.fullmatch(r"\d+\.\d{6}s", request["httpRequest"]["latency"])
    assert request["logging.googleapis.com/labels"] == {"service": "fitsense-api", "env": "prod"}
    for entry in entries.values():
        payload = entry["jsonPayload"]
        assert payload["request_id"] == "req-1" and payload["endpoint"] == "POST /coach"
        assert re.fullmatch(r"[0-9a-f]{16}", payload["user"])  # anonymized, never the id
        assert "00000000-0000-0000-0000-000000000001" not in json.dumps(entry)
    assert entries["inference"]["jsonPayload"]["inference"]["cost_usd"] == pytest.approx(
        1020 / 1000 * 0.0002
    )
    assert entries["rate_limited"]["severity"] == "WARNING"
    # Once a model answered, the request's later lines name its version.
    assert entries["http_request"]["jsonPayload"]["model_version"] == "student-v1"


def test_alert_policies_cover_errors_latency_and_quota_on_existing_metrics() -> None:
    metrics = _resources("google_logging_metric")
    policies = _resources("google_monitoring_alert_policy")
    assert {"api_error_spike", "api_latency_regression", "quota_exhaustion"} <= set(policies)
    for name, body in policies.items():
        assert body["notification_channels"] == "${local.alert_channels}", name
        assert body["documentation"][0]["content"], name
        for condition in body["conditions"]:
            threshold = (condition.get("condition_threshold") or [None])[0]
            if threshold is None:
                assert "condition_matched_log" in condition, name
                continue
            for key in ("filter", "denominator_filter"):
                if key in threshold:
                    (metric,) = re.findall(
                        r"logging\.googleapis\.com/user/\$\{google_logging_metric\.([a-z_]+)\.name\}",
                        threshold[key],
                    )
                    assert metric in metrics, (name, metric)
            assert threshold["duration"] == "${var.alert_window_s}s", name
    spike = policies["api_error_spike"]["conditions"][0]["condition_threshold"][0]
    assert "api_server_errors" in spike["filter"]
    assert "api_requests" in spike["denominator_filter"]
    latency = policies["api_latency_regression"]["conditions"][0]["condition_threshold"][0]
    assert latency["aggregations"][0]["cross_series_reducer"] == "REDUCE_PERCENTILE_95"

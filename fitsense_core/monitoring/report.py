"""The window's interactions, the verdict on them, and the stored report with its plot.

The window's ``ai_interactions`` — user requests and the probes just made — become
outcome, validity, fallback, error and latency figures. The report keeps its verdicts
apart, because each has its own cure:

- **model quality** (:func:`decay_reasons`: contract and semantic validity of the model's
  plans): a retraining run can fix it, and the retraining sensor requests one;
- **serving health** (:func:`serving_problems`: latency, fallback rate, an outage): no
  retraining can fix a server that is down or slow, so it raises an alert (a structured
  ERROR line, ``event="serving_alert"``, which ``infra/monitoring.tf`` matches, and a
  failed ERROR check in the Dagster UI) and requests no run;
- **capabilities** (``live["capabilities"]``, :attr:`MonitoringReport.capability_breaches`):
  the live acceptance of each capability's model answers; one clearly below its gate is
  suspended for the serving version (the knowledge-based coach serves it at once) and
  raises an alert (``event="capability_suspended"``);
- **drift** (``drift``): reported and checked as a warning above ``drift_psi_warn``; a
  retraining cause (:attr:`MonitoringReport.drift_reasons`) only above
  ``drift_psi_retrain`` and on enough requests from enough people to mean something.
  Probes and test accounts (addresses at reserved domains, RFC 2606 and RFC 6761, and
  synthetic people) never count as traffic for it.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fitsense_core.errors import ConfigurationError
from fitsense_core.inference.serve import (
    INVALID_PLAN,
    NOT_CAPABLE,
    REQUEST_REFUSED,
    REQUEST_TOO_LONG,
    SUSPENDED,
    UNAVAILABLE,
)
from fitsense_core.monitoring.probes import ratio
from fitsense_core.student.evaluation import percentile

PLAN_CONTEXTS = ("plan_generate", "plan_update", "plan_adapt")
# Fallbacks where the model gave no answer: serving's problem, not the model's.
SERVING_FAILURES = (UNAVAILABLE, REQUEST_TOO_LONG, REQUEST_REFUSED)
USER_CONTEXTS = (*PLAN_CONTEXTS, "coach")
# The model was not asked: the gate did not pass the capability, or monitoring suspended it.
NOT_ASKED = (NOT_CAPABLE, SUSPENDED)


@dataclass(frozen=True)
class Thresholds:
    """When model quality counts as decayed, or serving as degraded (any one is enough)."""

    contract_validity_min: float = 1.0
    semantic_validity_min: float = 0.9
    latency_p95_max_s: float = 8.0
    fallback_rate_max: float = 0.05
    # Drift above this is reported and checked (a warning). PSI 0.1-0.25 is the usual
    # "moderate shift" band and > 0.25 "significant" (Yurdakul 2018, Siddiqi 2006).
    drift_psi_warn: float = 0.25
    # Drift above this, on at least min_drift_retrain_requests requests from at least
    # min_drift_people people, is a retraining cause: the population the model serves is
    # no longer the one it learned from.
    drift_psi_retrain: float = 0.5
    min_drift_retrain_requests: int = 200
    min_drift_people: int = 20
    # A capability is suspended (the knowledge-based coach serves it) when its live
    # acceptance is clearly below its gate's floor: plans by the programming-quality
    # post-check, replies by the reply judge (the gate's MIN_REPLY_ACCEPTANCE, 0.8).
    capability_plan_floor: float = 0.9
    capability_reply_floor: float = 0.8
    min_capability_answers: int = 10
    # Fewer requests than this in the window: the live rates are shown, not judged.
    min_requests: int = 5
    # Fewer live user requests than this: no drift statistic (it would be noise).
    min_drift_requests: int = 20


# Addresses at domains reserved for testing and documentation (RFC 2606: example.com,
# .net, .org and the .example, .test, .invalid, .localhost top-level domains; RFC 6761):
# nobody real signs up with one, and the test suites and benchmarks all do.
TEST_ACCOUNT_EMAIL = (
    r"@(([a-z0-9-]+\.)*example\.(com|net|org)|([a-z0-9-]+\.)*(example|test|invalid|localhost))$"
)


def window_rows(
    conn: psycopg.Connection, start: datetime, end: datetime, limit: int = 200_000
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            SELECT i.context_type, i.outcome, i.safety_level, i.model_version, i.latency_ms,
                   i.error, char_length(i.query_text) AS query_chars, i.slices,
                   i.user_id IS NULL AS probe, i.user_id::text AS person,
                   coalesce(u.synthetic_run_id IS NOT NULL OR u.email ~* %s, false)
                       AS test_account
            FROM ai_interactions i
            LEFT JOIN users u ON u.id = i.user_id
            WHERE i.created_at >= %s AND i.created_at <= %s
            ORDER BY i.created_at DESC
            LIMIT %s
            """,
            (TEST_ACCOUNT_EMAIL, start, end, limit),
        ).fetchall()


def live_metrics(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Outcome, validity, fallback, error and latency figures of the window's rows (user
    requests and probes together; ``users`` counts only people's requests)."""
    users = [r for r in rows if not r["probe"]]
    answered = [r for r in rows if r["outcome"] != "refused"]
    # Requests the serving version was never asked, because it did not pass that
    # capability's gate: the knowledge-based coach answering them is the gate's decision,
    # not a failure of the model, and no retraining can change it.
    # Likewise requests of a capability monitoring suspended (``student.suspensions``).
    not_capable = [r for r in answered if (r["error"] or "").startswith(NOT_ASKED)]
    asked = [r for r in answered if not (r["error"] or "").startswith(NOT_ASKED)]
    plan_rows = [
        r
        for r in rows
        if (
            r["context_type"] in PLAN_CONTEXTS
            or (r["slices"] or {}).get("probe_context") in PLAN_CONTEXTS
        )
        and r["outcome"] in ("ok", "fallback")
        # The model gave no answer: down, the version did not pass that capability, or the
        # request was too long for it or refused by it.
        and not (r["error"] or "").startswith(
            (UNAVAILABLE, *NOT_ASKED, REQUEST_TOO_LONG, REQUEST_REFUSED)
        )
    ]
    invalid = sum(1 for r in plan_rows if (r["error"] or "").startswith(INVALID_PLAN))
    semantic_ok = sum(1 for r in plan_rows if r["outcome"] == "ok")
    latencies = [
        r["latency_ms"] / 1000
        for r in rows
        if r["latency_ms"] is not None and r["model_version"] and r["outcome"] != "refused"
    ]
    outcomes = Counter(r["outcome"] for r in rows)
    # Of the requests the model was asked: answers the checks refused (the model's
    # quality) apart from no answer at all (down, too long, refused by the server: serving).
    no_answer = [
        r
        for r in asked
        if r["outcome"] == "error"
        or (r["outcome"] == "fallback" and (r["error"] or "").startswith(SERVING_FAILURES))
    ]
    rejected = [
        r
        for r in asked
        if r["outcome"] == "fallback" and not (r["error"] or "").startswith(SERVING_FAILURES)
    ]
    return {
        "requests": len(rows),
        "user_requests": len(users),
        "probe_requests": len(rows) - len(users),
        "by_context": dict(sorted(Counter(r["context_type"] for r in rows).items())),
        "outcomes": dict(sorted(outcomes.items())),
        "safety_levels": dict(sorted(Counter(r["safety_level"] for r in rows).items())),
        "model_versions": dict(
            sorted(Counter(r["model_version"] or "(none)" for r in rows).items())
        ),
        "model_plans": len(plan_rows),
        "contract_validity": ratio(len(plan_rows) - invalid, len(plan_rows)),
        "semantic_validity": ratio(semantic_ok, len(plan_rows)),
        "fallback_rate": ratio(
            sum(1 for r in asked if r["outcome"] in ("fallback", "error")), len(asked)
        ),
        "rejected_rate": ratio(len(rejected), len(asked)),
        "no_answer_rate": ratio(len(no_answer), len(asked)),
        "not_capable": len(not_capable),
        "error_rate": ratio(sum(1 for r in answered if r["outcome"] == "error"), len(answered)),
        "refusal_rate": ratio(outcomes.get("refused", 0), len(rows)),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
    }


def _worst(
    probes: dict[str, Any], live: dict[str, Any], thresholds: Thresholds
) -> Callable[..., tuple[float | None, str]]:
    enough = live.get("requests", 0) >= thresholds.min_requests

    def worst(key: str, lowest: bool = True) -> tuple[float | None, str]:
        values = [(probes.get(key), "probes")]
        if enough:
            values.append((live.get(key), "live"))
        present = [(v, s) for v, s in values if v is not None]
        if not present:
            return None, ""
        return (min if lowest else max)(present, key=lambda p: p[0])

    return worst


def decay_reasons(
    probes: dict[str, Any], live: dict[str, Any], thresholds: Thresholds
) -> list[str]:
    """Why the model's quality counts as decayed (empty: it does not): what a retraining
    run can fix. The probes are always judged; the window's rates only with at least
    ``min_requests`` requests. Latency, fallbacks and outages are :func:`serving_problems`."""
    reasons = []
    worst = _worst(probes, live, thresholds)
    contract, where = worst("contract_validity")
    if contract is not None and contract < thresholds.contract_validity_min:
        reasons.append(
            f"contract validity {contract:.0%} < {thresholds.contract_validity_min:.0%} ({where})"
        )
    semantic, where = worst("semantic_validity")
    if semantic is not None and semantic < thresholds.semantic_validity_min:
        reasons.append(
            f"semantic validity {semantic:.0%} < {thresholds.semantic_validity_min:.0%} ({where})"
        )
    enough = live.get("requests", 0) >= thresholds.min_requests
    rejected = live.get("rejected_rate") if enough else None
    if rejected is not None and rejected > thresholds.fallback_rate_max:
        reasons.append(
            f"model answers refused by the checks {rejected:.0%} > "
            f"{thresholds.fallback_rate_max:.0%} (live, {live['requests']} requests)"
        )
    return reasons


def serving_problems(
    probes: dict[str, Any], live: dict[str, Any], thresholds: Thresholds
) -> list[str]:
    """Why serving counts as degraded (empty: it does not): slow answers, too many
    fallbacks, or every probe failing. An alert's business, not a retraining run's: a new
    model served by the same slow or absent server would be no better."""
    reasons = []
    worst = _worst(probes, live, thresholds)
    enough = live.get("requests", 0) >= thresholds.min_requests
    latency, where = worst("latency_p95_s", lowest=False)
    if latency is not None and latency > thresholds.latency_p95_max_s:
        reasons.append(
            f"p95 latency {latency:.1f} s > {thresholds.latency_p95_max_s:g} s ({where})"
        )
    missing = live.get("no_answer_rate") if enough else None
    if missing is not None and missing > thresholds.fallback_rate_max:
        reasons.append(
            f"no model answer for {missing:.0%} of requests > "
            f"{thresholds.fallback_rate_max:.0%} (live, {live['requests']} requests)"
        )
    outcomes = probes.get("outcomes", {})
    asked = probes.get("probes", 0) - outcomes.get("refused", 0)  # the policy answers those
    if asked > 0 and outcomes.get("error", 0) == asked:
        reasons.append(f"every probe failed: {(probes.get('errors') or ['?'])[0]}")
    return reasons


@dataclass
class MonitoringReport:
    window_start: datetime
    window_end: datetime
    model_version: str | None
    probes: dict[str, Any]
    live: dict[str, Any]
    drift: dict[str, Any]
    thresholds: Thresholds
    decay_reasons: list[str] = field(default_factory=list)
    serving_problems: list[str] = field(default_factory=list)
    report_uri: str | None = None
    id: int | None = None
    created_at: datetime | None = None

    @property
    def decayed(self) -> bool:
        """The model's quality decayed (what the retraining sensor acts on)."""
        return bool(self.decay_reasons)

    @property
    def drift_reasons(self) -> list[str]:
        """Drift large and broad enough to retrain on (empty: none; see ``drift_report``)."""
        reason = self.drift.get("retrain_reason")
        return [reason] if reason else []

    @property
    def capability_breaches(self) -> dict[str, str]:
        """Capabilities whose live quality fell below their gate (monitoring suspends
        them for the serving version), with why."""
        return dict(self.live.get("capability_breaches") or {})

    @property
    def serving_degraded(self) -> bool:
        """Serving is slow, falling back or down (what the alert is for)."""
        return bool(self.serving_problems)

    @property
    def status(self) -> dict[str, str]:
        """One status per concern, as the UI shows them."""
        return {
            "model_quality": "decayed" if self.decayed else "ok",
            "capabilities": (
                "suspended: "
                + ", ".join(sorted(self.capability_breaches))
                + " (the knowledge-based coach serves them)"
                if self.capability_breaches
                else "ok"
            ),
            "serving": "degraded" if self.serving_degraded else "ok",
            "drift": str(self.drift.get("status", "unknown"))
            + (" (retraining cause)" if self.drift_reasons else ""),
        }

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["thresholds"] = asdict(self.thresholds)
        for key in ("window_start", "window_end", "created_at"):
            value[key] = value[key].isoformat() if value[key] else None
        value["decayed"] = self.decayed
        value["drift_reasons"] = self.drift_reasons
        value["status"] = self.status
        return value


SERVING_ALERT_EVENT = "serving_alert"
SUSPENSION_ALERT_EVENT = "capability_suspended"


def serving_alert_entry(
    report: MonitoringReport, *, service: str = "fitsense-dagster", environment: str = "local"
) -> dict[str, Any]:
    """The alert for a report whose serving is degraded, as one Cloud Logging structured
    entry at ERROR (``infra/monitoring.tf`` matches ``event="serving_alert"``)."""
    return {
        "severity": "ERROR",
        "message": "serving degraded (no retraining requested): "
        + "; ".join(report.serving_problems),
        "time": (report.created_at or report.window_end).isoformat(),
        "logging.googleapis.com/labels": {"service": service, "env": environment},
        "event": SERVING_ALERT_EVENT,
        "report_id": report.id,
        "model_version": report.model_version,
        "problems": list(report.serving_problems),
        "status": report.status,
    }


def suspension_alert_entry(
    report: MonitoringReport,
    suspended: dict[str, str],
    *,
    service: str = "fitsense-dagster",
    environment: str = "local",
) -> dict[str, Any]:
    """The alert for capabilities monitoring just suspended, as one Cloud Logging
    structured entry at ERROR (``infra/monitoring.tf`` matches
    ``event="capability_suspended"``)."""
    return {
        "severity": "ERROR",
        "message": f"capabilities suspended for model version {report.model_version} (the "
        "knowledge-based coach serves them until a version passes again): "
        + "; ".join(f"{c}: {r}" for c, r in sorted(suspended.items())),
        "time": (report.created_at or report.window_end).isoformat(),
        "logging.googleapis.com/labels": {"service": service, "env": environment},
        "event": SUSPENSION_ALERT_EVENT,
        "report_id": report.id,
        "model_version": report.model_version,
        "capabilities": sorted(suspended),
        "reasons": dict(sorted(suspended.items())),
    }


def window(hours: float, now: datetime | None = None) -> tuple[datetime, datetime]:
    if not 0 < hours <= 24 * 90:
        raise ConfigurationError(f"the window must be 0-2160 hours, got {hours}")
    end = now or datetime.now(UTC)
    return end - timedelta(hours=hours), end


def store_report(conn: psycopg.Connection, report: MonitoringReport) -> MonitoringReport:
    row = conn.execute(
        """
        INSERT INTO monitoring_reports (
          window_start, window_end, model_version, probes, live, drift, thresholds,
          decay_reasons, serving_problems, report_uri)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id, created_at
        """,
        (
            report.window_start,
            report.window_end,
            report.model_version,
            Jsonb(report.probes),
            Jsonb(report.live),
            Jsonb(report.drift),
            Jsonb(asdict(report.thresholds)),
            report.decay_reasons,
            report.serving_problems,
            report.report_uri,
        ),
    ).fetchone()
    report.id, report.created_at = row[0], row[1]
    return report


def latest_report(database_url: str) -> MonitoringReport | None:
    with (
        psycopg.connect(database_url) as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        row = cur.execute("SELECT * FROM monitoring_reports ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return MonitoringReport(
        window_start=row["window_start"],
        window_end=row["window_end"],
        model_version=row["model_version"],
        probes=row["probes"],
        live=row["live"],
        drift=row["drift"],
        thresholds=Thresholds(**row["thresholds"]),
        decay_reasons=list(row["decay_reasons"]),
        serving_problems=list(row["serving_problems"]),
        report_uri=row["report_uri"],
        id=row["id"],
        created_at=row["created_at"],
    )


# --- the picture -------------------------------------------------------------------------


def plot_png(report: MonitoringReport) -> bytes:
    """Three panels: outcomes of the window, latency percentiles against the threshold,
    and the drift PSI per dimension."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    outcomes = report.live.get("outcomes") or {}
    axes[0].bar(list(outcomes) or ["none"], list(outcomes.values()) or [0], color="#4c72b0")
    axes[0].set_title(f"outcomes ({report.live.get('requests', 0)} requests)")
    latency = {
        "probe p50": report.probes.get("latency_p50_s"),
        "probe p95": report.probes.get("latency_p95_s"),
        "live p50": report.live.get("latency_p50_s"),
        "live p95": report.live.get("latency_p95_s"),
    }
    axes[1].bar(list(latency), [v or 0 for v in latency.values()], color="#55a868")
    axes[1].axhline(report.thresholds.latency_p95_max_s, color="#c44e52", linestyle="--")
    axes[1].set_title("latency (s); dashed: p95 limit")
    axes[1].tick_params(axis="x", labelsize=7)
    drift = report.drift.get("slices") or {}
    names = [*drift, "request length"] if drift else ["(no drift statistic)"]
    values = [d["psi"] for d in drift.values()]
    if drift:
        values.append(report.drift["request_length"]["psi"])
    axes[2].bar(names, values or [0], color="#8172b2")
    axes[2].axhline(report.thresholds.drift_psi_warn, color="#c44e52", linestyle="--")
    axes[2].set_title(f"drift PSI ({report.drift.get('status')})")
    axes[2].tick_params(axis="x", labelsize=7, rotation=30)
    fig.suptitle(
        " · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.status.items()),
        fontsize=9,
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def png_markdown(png: bytes) -> str:
    return f"![monitoring](data:image/png;base64,{base64.b64encode(png).decode()})"

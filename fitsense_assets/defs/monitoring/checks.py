"""Checks of the latest monitoring report (warnings: the sensor acts on decay)."""

from __future__ import annotations

import dagster as dg

from fitsense_assets.defs.monitoring.assets import live_monitoring
from fitsense_assets.resources import AppDatabaseResource


def _latest(app_database: AppDatabaseResource):
    from fitsense_core.monitoring import latest_report

    report = latest_report(app_database.resolved_url())
    if report is None:
        raise dg.Failure("no monitoring report in monitoring_reports")
    return report


@dg.asset_check(
    asset=live_monitoring,
    description="The served model's quality is within the thresholds: contract and semantic "
    "validity, and the share of its answers the checks refuse (a failure is what the "
    "retraining sensor acts on).",
)
def monitoring_within_thresholds(app_database: AppDatabaseResource) -> dg.AssetCheckResult:
    report = _latest(app_database)
    return dg.AssetCheckResult(
        passed=not report.decayed,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(report.decay_reasons) or "within every threshold",
        metadata={"report_id": report.id, "live": dg.MetadataValue.json(report.live)},
    )


@dg.asset_check(
    asset=live_monitoring,
    description="Serving is healthy: p95 latency, requests the model gave no answer to, and "
    "the probes answered at all. A failure is an alert (ERROR), never a retraining run.",
)
def monitoring_serving_healthy(app_database: AppDatabaseResource) -> dg.AssetCheckResult:
    report = _latest(app_database)
    return dg.AssetCheckResult(
        passed=not report.serving_degraded,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(report.serving_problems) or "serving within every threshold",
        metadata={"report_id": report.id, "status": dg.MetadataValue.json(report.status)},
    )


@dg.asset_check(
    asset=live_monitoring,
    description="Every capability the serving version passed still meets its gate live: a "
    "capability whose live acceptance is clearly below its floor is suspended (the "
    "knowledge-based coach serves it until a version passes again) and this fails (ERROR).",
)
def monitoring_capabilities_within_gate(
    app_database: AppDatabaseResource,
) -> dg.AssetCheckResult:
    report = _latest(app_database)
    breaches = report.capability_breaches
    return dg.AssetCheckResult(
        passed=not breaches,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{c} suspended: {r}" for c, r in breaches.items())
        or "every capability within its gate",
        metadata={
            "report_id": report.id,
            "capabilities": dg.MetadataValue.json(report.live.get("capabilities") or {}),
        },
    )


@dg.asset_check(
    asset=live_monitoring,
    description="The window's requests look like the training data: the largest population "
    "stability index of the slices and request length stays under the warning level.",
)
def monitoring_drift(app_database: AppDatabaseResource) -> dg.AssetCheckResult:
    report = _latest(app_database)
    drift = report.drift
    return dg.AssetCheckResult(
        passed=drift.get("status") != "drift",
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{drift.get('status')}: "
        + (
            f"max PSI {drift['max_psi']} (warning above {report.thresholds.drift_psi_warn})"
            if "max_psi" in drift
            else drift.get("detail", "")
        ),
        metadata={"drift": dg.MetadataValue.json(drift)},
    )

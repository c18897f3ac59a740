"""Live monitoring of the served student: probes, the recent ``ai_interactions`` and drift.

A monitoring run (1) asks the served model a fixed probe set and scores every answer with
the evaluation's own checks (plan contract, the person's constraints, safety); (2)
aggregates the window's ``ai_interactions`` — user requests and the probes just made —
into outcome, validity, fallback, error and latency figures; (3) compares the window's
requests with the serving version's training data (population stability index of the
slice distributions and of the request length, plus a two-sample Kolmogorov–Smirnov
statistic of the length); and (4) says whether the model's quality has decayed past the
thresholds (what retraining can fix) and, apart from it, whether serving is degraded
(latency, no answers, an outage: an alert, never a retraining run).

A probe that times out, or a model server that is down, is a monitored failure: the probe
is recorded in ``ai_interactions`` with outcome ``error`` and counts toward the error and
fallback rates. Nothing here knows about Dagster.
"""

from fitsense_core.monitoring.capabilities import breaches, capability_metrics
from fitsense_core.monitoring.drift import (
    DRIFT_DIMENSIONS,
    Reference,
    drift_report,
    ks_two_sample,
    psi,
    training_reference,
)
from fitsense_core.monitoring.probes import (
    ProbeOutcome,
    probe_metrics,
    probe_records,
    probe_served_model,
    record_probes,
)
from fitsense_core.monitoring.report import (
    TEST_ACCOUNT_EMAIL,
    MonitoringReport,
    Thresholds,
    decay_reasons,
    latest_report,
    live_metrics,
    plot_png,
    png_markdown,
    serving_alert_entry,
    serving_problems,
    store_report,
    suspension_alert_entry,
    window,
    window_rows,
)

__all__ = [
    "DRIFT_DIMENSIONS",
    "TEST_ACCOUNT_EMAIL",
    "MonitoringReport",
    "ProbeOutcome",
    "Reference",
    "Thresholds",
    "breaches",
    "capability_metrics",
    "decay_reasons",
    "drift_report",
    "ks_two_sample",
    "latest_report",
    "live_metrics",
    "plot_png",
    "png_markdown",
    "probe_metrics",
    "probe_records",
    "probe_served_model",
    "psi",
    "record_probes",
    "serving_alert_entry",
    "serving_problems",
    "store_report",
    "suspension_alert_entry",
    "training_reference",
    "window",
    "window_rows",
]

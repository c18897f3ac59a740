"""Live monitoring of the served student: probes, the recent ``ai_interactions`` and drift.

A monitoring run (1) asks the served model a fixed probe set and scores every answer with
the evaluation's own checks (plan contract, the person's constraints, safety); (2)
aggregates the window's ``ai_interactions`` — user requests and the probes just made —
into outcome, validity, fallback, error and latency figures; (3) compares the window's
requests with the serving version's training data (population stability index of the
slice distributions and of the request length, plus a two-sample Kolmogorov–Smirnov
statistic of the length); and (4) says whether quality has decayed past the thresholds.

A probe that times out, or a model server that is down, is a monitored failure: the probe
is recorded in ``ai_interactions`` with outcome ``error`` and counts toward the error and
fallback rates. Nothing here knows about Dagster.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fitsense_core.errors import ConfigurationError
from fitsense_core.inference.serve import INVALID_PLAN, UNAVAILABLE
from fitsense_core.student.evaluation import SLICE_DIMENSIONS, percentile

PROBE_RUN_ID = "monitoring-probes"
PROBE_SEED = 2026
PROBE_USERS = 16
PROBE_HISTORY_END = date(2026, 1, 4)
PLAN_CONTEXTS = ("plan_generate", "plan_update", "plan_adapt")
USER_CONTEXTS = (*PLAN_CONTEXTS, "coach")
PSI_EPSILON = 1e-4
# The slice tags compared with the training data (prompt_type: the mix of request kinds).
DRIFT_DIMENSIONS = (*SLICE_DIMENSIONS, "prompt_type")


@dataclass(frozen=True)
class Thresholds:
    """When quality counts as decayed (any one is enough)."""

    contract_validity_min: float = 1.0
    semantic_validity_min: float = 0.9
    latency_p95_max_s: float = 8.0
    fallback_rate_max: float = 0.05
    # Drift is reported and checked (a warning), not a retraining cause on its own.
    drift_psi_warn: float = 0.25
    # Fewer requests than this in the window: the live rates are shown, not judged.
    min_requests: int = 5
    # Fewer live user requests than this: no drift statistic (it would be noise).
    min_drift_requests: int = 20


# --- the probe set -----------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def probe_records(count: int = 8) -> tuple[dict[str, Any], ...]:
    """A fixed probe set: dataset records (prompt, context, the teacher's reference answer)
    from a small synthetic population with a fixed seed and date, so every monitoring run
    asks the same questions. Stratified by prompt type like the evaluation's sample."""
    from fitsense_core.distill import build_records
    from fitsense_core.prompts import build_prompts
    from fitsense_core.qa import validate_answers
    from fitsense_core.student.evaluation import select_records
    from fitsense_core.synthetic import SyntheticConfig, generate_run
    from fitsense_core.synthetic.context import user_contexts
    from fitsense_core.teacher import run_teacher
    from fitsense_core.teacher.offline import OfflineTeacher

    if not 1 <= count <= 200:
        raise ConfigurationError(f"the probe count must be between 1 and 200, got {count}")
    config = SyntheticConfig(
        run_id=PROBE_RUN_ID,
        n_users=PROBE_USERS,
        seed=PROBE_SEED,
        history_days=28,
        history_end=PROBE_HISTORY_END,
    )
    prompts = build_prompts(PROBE_RUN_ID, user_contexts(*generate_run(config)))
    report = run_teacher(prompts, OfflineTeacher())
    accepted = [v for v in validate_answers(prompts, report.answers) if v.accepted]
    records = [json.loads(r.to_json()) for r in build_records(accepted, seed=13)]
    return tuple(select_records(records, count, seed=PROBE_SEED))


# --- probing the served model ------------------------------------------------------------


@dataclass
class ProbeOutcome:
    """One probe as scored and as recorded in ``ai_interactions``."""

    row: dict[str, Any]  # the evaluation's score row
    context_type: str
    query_text: str
    outcome: str  # ok | fallback | refused | error
    safety_level: str
    slices: dict[str, str]
    response_text: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    latency_ms: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None


def _probe_context(prompt_type: str) -> str:
    return {"plan_creation": "plan_generate", "plan_update": "plan_update"}.get(
        prompt_type, "coach"
    )


def probe_served_model(
    records: Sequence[dict[str, Any]],
    database_url: str,
    *,
    client_settings: Any = None,
    timeout_s: float = 30.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[ProbeOutcome]:
    """Ask the model behind ``FITSENSE_MODEL_URL`` (or ``client_settings``) every probe
    through the API's own inference path (:mod:`fitsense_core.inference.serve`: the same
    request, judgement and served answer), and score the answers. Never raises for the
    model's sake: a server that is down, a timeout or a broken answer becomes that probe's
    ``error`` or ``fallback`` outcome."""
    from fitsense_core.inference import serve
    from fitsense_core.inference.client import ClientSettings, ModelClient, ModelUnavailable
    from fitsense_core.inference.endpoint import version_of
    from fitsense_core.safety import triage
    from fitsense_core.student.data import task_from_record
    from fitsense_core.student.evaluation import score

    settings = client_settings or ClientSettings.from_env()
    codebooks = serve.registry_codebooks(database_url)

    async def main() -> list[ProbeOutcome]:
        client = ModelClient(settings)
        outcomes: list[ProbeOutcome] = []
        try:
            try:
                served = await asyncio.wait_for(client.served_model(), timeout_s)
                codebook = await asyncio.to_thread(codebooks.get, version_of(served))
                down = None
            except (ModelUnavailable, TimeoutError, OSError) as exc:
                served, codebook, down = None, None, f"{UNAVAILABLE}: {exc or 'timed out'}"
            except Exception as exc:  # the registry lacks the served version, a bad codebook
                served, codebook, down = None, None, f"{UNAVAILABLE}: {exc}"
            for i, record in enumerate(records, start=1):
                task = task_from_record(record)
                reference = record["messages"][-1]["content"]
                verdict = triage(task.request, task.profile)
                probe = ProbeOutcome(
                    row={},
                    context_type=_probe_context(task.prompt_type),
                    query_text=task.request,
                    outcome="ok",
                    safety_level=str(verdict.level),
                    slices=dict(task.slices),
                )
                if not serve.calls_model(task, verdict):
                    probe.outcome, probe.latency_ms = "refused", 0
                    probe.response_text = serve.policy_reply(verdict).text
                    probe.row = {"id": task.id, "prompt_type": task.prompt_type}
                    probe.row.update(model_called=False)
                    outcomes.append(probe)
                    continue
                text = None
                if down is not None:
                    probe.outcome, probe.error = "error", down
                else:
                    request = serve.model_request(task, codebook, settings.backend)
                    started = time.perf_counter()
                    try:
                        completion = await asyncio.wait_for(
                            client.complete(
                                request.messages,
                                max_tokens=request.max_tokens,
                                model=served,
                                extra_body=request.extra_body,
                            ),
                            timeout_s,
                        )
                    except TimeoutError:
                        probe.outcome = "error"
                        probe.error = f"probe timed out after {timeout_s:g} s"
                        probe.latency_ms = round((time.perf_counter() - started) * 1000)
                    except ModelUnavailable as exc:
                        probe.outcome, probe.error = "error", f"{UNAVAILABLE}: {exc}"
                    else:
                        text = completion.text
                        probe.response_text = text
                        probe.model_name = completion.model_name
                        probe.model_version = completion.model_version
                        probe.latency_ms = completion.latency_ms
                        probe.prompt_tokens = completion.prompt_tokens
                        probe.completion_tokens = completion.completion_tokens
                row = score(
                    task, text, reference, codebook or _empty_codebook(), compact=text is not None
                )
                row.update(
                    latency_s=None if probe.latency_ms is None else probe.latency_ms / 1000,
                    model_called=text is not None,
                    generation_error=probe.error,
                )
                if probe.outcome == "ok":  # judged and served as the API would
                    if task.output_type == "plan":
                        reason = serve.judge_plan(text, codebook, task).reason
                    else:
                        reply = serve.serve_reply(task, verdict, text)
                        probe.response_text, reason = reply.text, reply.fallback_reason
                    if reason is not None:
                        probe.outcome, probe.error = "fallback", reason
                probe.row = row
                outcomes.append(probe)
                progress(f"probe {i}/{len(records)}: {probe.outcome}")
        finally:
            await client.aclose()
        return outcomes

    return asyncio.run(main())


@functools.lru_cache(maxsize=1)
def _empty_codebook():
    from fitsense_core.student.compact import build_codebook

    return build_codebook([])


def record_probes(conn: psycopg.Connection, outcomes: Sequence[ProbeOutcome]) -> int:
    """Store the probes as ``ai_interactions`` rows (no user; ``monitoring_probe``)."""
    request_id = f"monitoring-{uuid4()}"
    with conn.cursor() as cur:
        for p in outcomes:
            cur.execute(
                """
                INSERT INTO ai_interactions (
                  user_id, context_type, request_id, query_text, response_text, model_name,
                  model_version, latency_ms, prompt_tokens, completion_tokens, safety_level,
                  outcome, error, slices)
                VALUES (NULL, 'monitoring_probe', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                        %s, %s)
                """,
                (
                    request_id,
                    p.query_text[:4000] or "(probe)",
                    p.response_text,
                    p.model_name,
                    p.model_version,
                    p.latency_ms,
                    p.prompt_tokens,
                    p.completion_tokens,
                    p.safety_level,
                    p.outcome,
                    p.error,
                    Jsonb({**p.slices, "probe_context": p.context_type}),
                ),
            )
    return len(outcomes)


def probe_metrics(outcomes: Sequence[ProbeOutcome]) -> dict[str, Any]:
    from fitsense_core.student.evaluation import summarize

    if not outcomes:
        return {"probes": 0}
    metrics = summarize([o.row | {"prompt_type": o.row.get("prompt_type", "")} for o in outcomes])
    counts = Counter(o.outcome for o in outcomes)
    metrics.update(
        probes=len(outcomes),
        outcomes=dict(sorted(counts.items())),
        errors=[o.error for o in outcomes if o.outcome == "error"][:5],
        model_versions=sorted({o.model_version for o in outcomes if o.model_version}),
    )
    return metrics


# --- the window's interactions -----------------------------------------------------------


def window_rows(
    conn: psycopg.Connection, start: datetime, end: datetime, limit: int = 200_000
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            SELECT context_type, outcome, safety_level, model_version, latency_ms, error,
                   char_length(query_text) AS query_chars, slices, user_id IS NULL AS probe
            FROM ai_interactions
            WHERE created_at >= %s AND created_at <= %s
            ORDER BY created_at DESC
            LIMIT %s
            """,
            (start, end, limit),
        ).fetchall()


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def live_metrics(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Outcome, validity, fallback, error and latency figures of the window's rows (user
    requests and probes together; ``users`` counts only people's requests)."""
    users = [r for r in rows if not r["probe"]]
    answered = [r for r in rows if r["outcome"] != "refused"]
    plan_rows = [
        r
        for r in rows
        if (
            r["context_type"] in PLAN_CONTEXTS
            or (r["slices"] or {}).get("probe_context") in PLAN_CONTEXTS
        )
        and r["outcome"] in ("ok", "fallback")
        and not (r["error"] or "").startswith(UNAVAILABLE)
    ]
    invalid = sum(1 for r in plan_rows if (r["error"] or "").startswith(INVALID_PLAN))
    semantic_ok = sum(1 for r in plan_rows if r["outcome"] == "ok")
    latencies = [
        r["latency_ms"] / 1000
        for r in rows
        if r["latency_ms"] is not None and r["model_version"] and r["outcome"] != "refused"
    ]
    outcomes = Counter(r["outcome"] for r in rows)
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
        "contract_validity": _ratio(len(plan_rows) - invalid, len(plan_rows)),
        "semantic_validity": _ratio(semantic_ok, len(plan_rows)),
        "fallback_rate": _ratio(
            sum(1 for r in answered if r["outcome"] in ("fallback", "error")), len(answered)
        ),
        "error_rate": _ratio(sum(1 for r in answered if r["outcome"] == "error"), len(answered)),
        "refusal_rate": _ratio(outcomes.get("refused", 0), len(rows)),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
    }


# --- drift against the training data ------------------------------------------------------


def psi(expected: Counter, actual: Counter, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of ``actual`` against ``expected`` over their categories
    (a category one side lacks gets ``epsilon`` so the statistic stays finite)."""
    total_e, total_a = sum(expected.values()), sum(actual.values())
    if not total_e or not total_a:
        raise ValueError("PSI needs observations on both sides")
    value = 0.0
    for category in set(expected) | set(actual):
        e = max(expected.get(category, 0) / total_e, epsilon)
        a = max(actual.get(category, 0) / total_a, epsilon)
        value += (a - e) * math.log(a / e)
    return round(value, 4)


def length_bins(reference: Sequence[float], bins: int = 10) -> list[float]:
    """Inner bin edges at the reference's deciles (deduplicated)."""
    ordered = sorted(reference)
    edges = {ordered[min(len(ordered) - 1, int(len(ordered) * k / bins))] for k in range(1, bins)}
    return sorted(edges)


def binned(values: Sequence[float], edges: Sequence[float]) -> Counter:
    counts: Counter = Counter()
    for v in values:
        counts[sum(1 for edge in edges if v >= edge)] += 1
    return counts


def ks_two_sample(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value."""
    if not a or not b:
        raise ValueError("KS needs observations on both sides")
    xs, ys = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(xs) and j < len(ys):
        x = min(xs[i], ys[j])
        while i < len(xs) and xs[i] <= x:
            i += 1
        while j < len(ys) and ys[j] <= x:
            j += 1
        d = max(d, abs(i / len(xs) - j / len(ys)))
    n = len(xs) * len(ys) / (len(xs) + len(ys))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * (k * lam) ** 2) for k in range(1, 101))
    return round(d, 4), round(min(1.0, max(0.0, p)), 4)


@dataclass(frozen=True)
class Reference:
    """What the serving version was trained on: request lengths and slice tags."""

    source: str
    lengths: list[int]
    slices: list[dict[str, str]]


def training_reference(records: Sequence[dict[str, Any]], source: str) -> Reference:
    return Reference(
        source=source,
        lengths=[len(r["metadata"]["request"]) for r in records],
        slices=[r["metadata"]["slices"] for r in records],
    )


def drift_report(
    reference: Reference | None, rows: Sequence[dict[str, Any]], thresholds: Thresholds
) -> dict[str, Any]:
    """PSI of every slice dimension and of the binned request length, and the KS statistic
    of the length, for the window's user requests against the training data."""
    live = [r for r in rows if not r["probe"] and r["slices"]]
    if reference is None or not reference.lengths:
        return {"status": "no_reference", "detail": "no training data for the serving version"}
    if len(live) < thresholds.min_drift_requests:
        return {
            "status": "too_few_requests",
            "detail": f"{len(live)} user requests with slice tags in the window; drift needs "
            f"{thresholds.min_drift_requests}",
            "reference": reference.source,
            "live_requests": len(live),
        }
    lengths = [r["query_chars"] for r in live]
    edges = length_bins(reference.lengths)
    by_dimension = {}
    for dim in DRIFT_DIMENSIONS:
        expected = Counter(s.get(dim, "") for s in reference.slices)
        actual = Counter((r["slices"] or {}).get(dim, "") for r in live)
        by_dimension[dim] = {
            "psi": psi(expected, actual),
            "training": _shares(expected),
            "live": _shares(actual),
        }
    length_psi = psi(binned(reference.lengths, edges), binned(lengths, edges))
    ks, p_value = ks_two_sample(reference.lengths, lengths)
    worst = max([length_psi, *(d["psi"] for d in by_dimension.values())])
    return {
        "status": "drift" if worst > thresholds.drift_psi_warn else "stable",
        "reference": reference.source,
        "training_requests": len(reference.lengths),
        "live_requests": len(live),
        "slices": by_dimension,
        "request_length": {
            "psi": length_psi,
            "ks": ks,
            "ks_p_value": p_value,
            "training_median": percentile(reference.lengths, 0.5),
            "live_median": percentile(lengths, 0.5),
        },
        "max_psi": worst,
    }


def _shares(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {k: round(v / total, 3) for k, v in sorted(counts.items())}


# --- the verdict -------------------------------------------------------------------------


def decay_reasons(
    probes: dict[str, Any], live: dict[str, Any], thresholds: Thresholds
) -> list[str]:
    """Why quality counts as decayed (empty: it does not). The probes are always judged;
    the window's rates only with at least ``min_requests`` requests."""
    reasons = []
    enough = live.get("requests", 0) >= thresholds.min_requests

    def worst(key: str, lowest: bool = True) -> tuple[float | None, str]:
        values = [(probes.get(key), "probes")]
        if enough:
            values.append((live.get(key), "live"))
        present = [(v, s) for v, s in values if v is not None]
        if not present:
            return None, ""
        return (min if lowest else max)(present, key=lambda p: p[0])

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
    latency, where = worst("latency_p95_s", lowest=False)
    if latency is not None and latency > thresholds.latency_p95_max_s:
        reasons.append(
            f"p95 latency {latency:.1f} s > {thresholds.latency_p95_max_s:g} s ({where})"
        )
    fallback = live.get("fallback_rate") if enough else None
    if fallback is not None and fallback > thresholds.fallback_rate_max:
        reasons.append(
            f"fallback rate {fallback:.0%} > "
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
    report_uri: str | None = None
    id: int | None = None
    created_at: datetime | None = None

    @property
    def decayed(self) -> bool:
        return bool(self.decay_reasons)

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["thresholds"] = asdict(self.thresholds)
        for key in ("window_start", "window_end", "created_at"):
            value[key] = value[key].isoformat() if value[key] else None
        value["decayed"] = self.decayed
        return value


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
          decay_reasons, report_uri)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
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
        "decayed: " + "; ".join(report.decay_reasons) if report.decayed else "healthy",
        fontsize=9,
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def png_markdown(png: bytes) -> str:
    return f"![monitoring](data:image/png;base64,{base64.b64encode(png).decode()})"

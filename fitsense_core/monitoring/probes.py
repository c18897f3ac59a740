"""The probe set and probing the served model.

The probe pool is fixed: the dataset records of a synthetic population with a fixed seed
and date (:data:`PROBE_USERS` people, every prompt type: plan creation, plan updates,
coaching questions, safety cases). Each monitoring run asks a stratified sample of it, a
different one per ``rotation`` (the asset rotates every quarter hour), so a day's window
holds answers to most of the pool rather than the same eight prompts. Probes go through
the API's own inference path and are scored with the evaluation's checks; every probe is
recorded in ``ai_interactions``. A probe that times out, or a model server that is down,
is a monitored failure (outcome ``error``). The triage's answers to the probes with a
known level give the false-escalation and missed-escalation rates.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.types.json import Jsonb

from fitsense_core.errors import ConfigurationError
from fitsense_core.inference.serve import UNAVAILABLE

PROBE_RUN_ID = "monitoring-probes"
PROBE_SEED = 2026
PROBE_USERS = 60
PROBE_HISTORY_END = date(2026, 1, 4)
ORDINARY_LEVELS = ("ok", "injury_aware")
ESCALATED_LEVELS = ("needs_clearance", "emergency")


@functools.lru_cache(maxsize=8)
def probe_records(count: int = 8, rotation: int = 0) -> tuple[dict[str, Any], ...]:
    """``count`` probes from the fixed pool: dataset records (prompt, context, the
    teacher's reference answer), stratified by prompt type like the evaluation's sample;
    ``rotation`` picks another sample of the same pool (0: always the same one)."""
    if not 1 <= count <= 200:
        raise ConfigurationError(f"the probe count must be between 1 and 200, got {count}")
    from fitsense_core.student.evaluation import select_records

    return tuple(select_records(list(_probe_pool()), count, seed=PROBE_SEED + rotation))


@functools.lru_cache(maxsize=1)
def _probe_pool() -> tuple[dict[str, Any], ...]:
    """Every accepted record of the probe population."""
    from fitsense_core.distill import build_records
    from fitsense_core.prompts import build_prompts
    from fitsense_core.qa import validate_answers
    from fitsense_core.synthetic import SyntheticConfig, generate_run
    from fitsense_core.synthetic.context import user_contexts
    from fitsense_core.teacher import run_teacher
    from fitsense_core.teacher.offline import OfflineTeacher

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
    return tuple(json.loads(r.to_json()) for r in build_records(accepted))


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
    expected_safety_level: str = ""
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
                    expected_safety_level=record["metadata"].get("expected_safety_level", ""),
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


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def probe_metrics(outcomes: Sequence[ProbeOutcome]) -> dict[str, Any]:
    from fitsense_core.student.evaluation import summarize

    if not outcomes:
        return {"probes": 0}
    # The model's quality is judged on the probes it answered: a probe that got no answer
    # (the server down, a timeout) is serving's failure, counted in ``outcomes`` and
    # ``errors``, not an invalid plan.
    answered = [o for o in outcomes if o.outcome != "error"]
    metrics = (
        summarize([o.row | {"prompt_type": o.row.get("prompt_type", "")} for o in answered])
        if answered
        else {}
    )
    counts = Counter(o.outcome for o in outcomes)
    # The triage on probes whose level is known: ordinary ones it escalated to clearance
    # or emergency, and clearance or emergency ones it let through as ordinary.
    ordinary = [o for o in outcomes if o.expected_safety_level in ORDINARY_LEVELS]
    serious = [o for o in outcomes if o.expected_safety_level in ESCALATED_LEVELS]
    metrics.update(
        false_escalation_rate=ratio(
            sum(o.safety_level in ESCALATED_LEVELS for o in ordinary), len(ordinary)
        ),
        missed_escalation_rate=ratio(
            sum(o.safety_level in ORDINARY_LEVELS for o in serious), len(serious)
        ),
        ordinary_probes=len(ordinary),
        serious_probes=len(serious),
    )
    metrics.update(
        probes=len(outcomes),
        outcomes=dict(sorted(counts.items())),
        errors=[o.error for o in outcomes if o.outcome == "error"][:5],
        model_versions=sorted({o.model_version for o in outcomes if o.model_version}),
    )
    return metrics

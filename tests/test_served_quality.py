"""Every plan the system serves passes the programming-quality checks, whoever wrote it.

One plan for each of 60 varied synthetic people (new plans, and updates with the
intents the population's requests carry) go through the one inference path with a real model behind
a real llama.cpp server: the request the API sends (the per-place grammar), the model's
compact plan, the judgement, and the knowledge-based coach when the judgement refuses.
The model is the shipped SmolLM2-135M GGUF that the serving tests register as a version
(CI has no trained student; `make run`'s student answers through exactly this path),
including people whose equipment and injuries leave few exercises for a side of the body.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from openai import OpenAI

from fitsense_core.inference import serve
from fitsense_core.plan_contract import Plan, validate_plan
from fitsense_core.programming import eligible_exercises, family, movement_side
from fitsense_core.prompts import build_prompts, context_from_json
from fitsense_core.safety import triage
from fitsense_core.student.base_model import base_model_gguf
from fitsense_core.student.compact import build_codebook
from fitsense_core.student.data import live_task
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher.offline import OfflineTeacher
from fitsense_serving.llama_server import start_llama_server

pytestmark = pytest.mark.slow

PEOPLE = 60


def test_every_served_plan_passes_the_quality_checks(tmp_path: Path) -> None:
    config = SyntheticConfig(
        run_id="served-quality",
        n_users=PEOPLE,
        seed=29,
        history_days=21,
        history_end=date(2026, 3, 1),
    )
    prompts = [
        p
        for p in build_prompts(config.run_id, user_contexts(*generate_run(config)))
        if p.output_type == "plan"
    ]
    teacher = OfflineTeacher()
    codebook = build_codebook(Plan.model_validate_json(teacher.answer_json(p)) for p in prompts)
    # One plan per person: a new plan for every other person, an update (with whichever
    # intent the population's request carries) for the rest where they have one.
    by_person: dict[str, dict[str, object]] = {}
    for prompt in prompts:
        profile, _plan, _sessions = context_from_json(prompt.context_json)
        by_person.setdefault(profile.user_id, {}).setdefault(prompt.prompt_type, prompt)
    chosen = {}
    for index, (user, kinds) in enumerate(sorted(by_person.items())):
        wanted = ("plan_update", "plan_creation") if index % 2 else ("plan_creation",)
        chosen[user] = next(kinds[k] for k in (*wanted, *kinds) if k in kinds)
    assert len(chosen) >= 50

    server = start_llama_server(
        base_model_gguf(),
        model_alias="served-quality",
        api_key=secrets.token_urlsafe(16),
        log_path=tmp_path / "llama.log",
        n_ctx=2048,
    )
    sources: Counter[str] = Counter()
    scarce = 0
    reasons: Counter[str] = Counter()
    try:
        client = OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        for prompt in chosen.values():
            profile, plan, sessions = context_from_json(prompt.context_json)
            task = live_task("served", prompt.prompt_type, prompt.request, profile, plan, sessions)
            verdict = triage(task.request, task.profile)
            if not serve.calls_model(task, verdict):
                continue
            request = serve.model_request(task, codebook, "llama-cpp")
            completion = client.chat.completions.create(
                model="served-quality",
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=0.0,
                extra_body=request.extra_body,
            )
            judgement = serve.judge_plan(completion.choices[0].message.content, codebook, task)
            served = serve.serve_plan(task, verdict, judgement)
            sources[served.source] += 1
            if served.fallback_reason:
                reasons[served.fallback_reason.split(":")[0]] += 1
            assert validate_plan(served.plan, task.athlete).valid
            problems = serve.plan_quality(served.plan, task)
            scarce += _scarce(task.athlete)
            assert not problems, (task.prompt_type, task.request, served.source, problems)
    finally:
        server.stop()
    assert sum(sources.values()) >= 50
    print(f"served by {dict(sources)}; fallback reasons {dict(reasons)}; scarce {scarce}")


def _scarce(athlete) -> bool:
    """Fewer than two strength exercises for pushing, pulling or the lower body."""
    sides = Counter(
        movement_side(e) for e in eligible_exercises(athlete) if family(e) == "strength"
    )
    return any(sides[side] < 2 for side in ("push", "pull", "lower"))

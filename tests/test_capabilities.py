"""Capabilities per model version: what the promotion gate passed is recorded in the
registry, shown by ``fitsense model list``, and obeyed by the API — a request whose
capability the serving version did not pass is answered by the knowledge-based coach
without asking the model. The API half runs the real path: the shipped base GGUF
registered with a gate that passed plan creation only, served by ``fitsense serve``'s
proxy over a real llama.cpp server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fitsense_core.inference.serve import NOT_CAPABLE
from fitsense_core.migrations import migrate
from fitsense_core.student import registry
from fitsense_core.student.registry import (
    CAPABILITIES,
    ModelVersion,
    RegistryError,
    criteria_table,
    gate_capabilities,
)
from tests.ai_fixtures import ai_client, ai_environ
from tests.api_helpers import sse_events
from tests.model_fixtures import register_test_version
from tests.test_api_ai import CHEST_PAIN, audit_rows, onboarded

VERSION = "test-cap-0001"


def criterion(capability: str, name: str, value: float, threshold: str, passed: bool) -> dict:
    return {
        "capability": capability,
        "name": name,
        "value": value,
        "ci": [round(value - 0.05, 3), round(value + 0.05, 3)],
        "threshold": threshold,
        "passed": passed,
    }


def gate_passing(*passed: str) -> dict:
    """A gate of the per-capability shape that passed exactly ``passed``."""
    criteria = [
        criterion(c, "semantic_validity", 0.95 if c in passed else 0.41, ">= 0.9", c in passed)
        for c in CAPABILITIES
    ]
    failed = [c for c in criteria if not c["passed"]]
    return {
        "passed": bool(passed),
        "failures": [f"{c['capability']}: {c['name']} {c['value']} < 0.9" for c in failed],
        "capabilities": {c: c in passed for c in CAPABILITIES},
        "criteria": criteria,
    }


def version_with(name: str, gate: dict) -> ModelVersion:
    digest = "a" * 64
    return ModelVersion(
        version=name,
        status="candidate",
        run_id="r",
        base_model="shipped",
        base_model_digest=digest,
        dataset_run_id="r",
        dataset_sha256=digest,
        git_commit="abc",
        training_config={},
        metrics={"student": {}},
        gate=gate,
        manifest_uri="m",
        eval_report_uri="e",
        gguf_uri="g",
        gguf_sha256=digest,
        adapter_uri="a",
        merged_uri="m",
        codebook_uri="c",
    )


# --- the registry ----------------------------------------------------------------------


def test_a_version_that_passed_no_capability_is_rejected_and_never_promoted(
    fresh_migrated_db: str,
) -> None:
    url = fresh_migrated_db
    # The caller says candidate; the gate decides.
    rejected = registry.register(url, version_with("cap-none-0001", gate_passing()))
    assert rejected.status == "rejected" and rejected.capabilities == ()
    assert not rejected.gate_passed
    with pytest.raises(RegistryError, match="failed its promotion gate") as refused:
        registry.promote(url, "cap-none-0001")
    for capability in CAPABILITIES:  # every failed criterion is named
        assert f"{capability}: semantic_validity = 0.41" in str(refused.value)
    assert registry.serving(url) is None
    assert registry.latest_rejected(url).version == "cap-none-0001"


def test_a_version_that_passed_some_capabilities_is_promoted_and_serves_those(
    fresh_migrated_db: str,
) -> None:
    url = fresh_migrated_db
    partial = registry.register(url, version_with("cap-plan-0001", gate_passing("plan_creation")))
    assert partial.status == "candidate" and partial.capabilities == ("plan_creation",)
    assert registry.promote(url, "cap-plan-0001") is None
    serving = registry.serving(url)
    assert serving.version == "cap-plan-0001" and serving.capabilities == ("plan_creation",)
    assert serving.failures == [
        f"{c}: semantic_validity = 0.41 [0.36, 0.46], needs >= 0.9"
        for c in CAPABILITIES
        if c != "plan_creation"
    ]


def test_a_legacy_gate_counts_as_every_capability_or_none() -> None:
    assert gate_capabilities({"passed": True, "failures": []}) == CAPABILITIES
    assert gate_capabilities({"passed": False, "failures": ["x"]}) == ()
    assert "without per-criterion results: fails" in criteria_table({"passed": False})


def test_the_criteria_table_has_a_row_per_criterion() -> None:
    table = criteria_table(gate_passing("coach_reply")).splitlines()
    assert table[0] == "| capability | criterion | value | CI | threshold | pass/fail |"
    assert len(table) == 2 + len(CAPABILITIES)
    assert "| coach_reply | semantic_validity | 0.95 | [0.9, 1] | >= 0.9 | pass |" in table
    assert "| plan_update | semantic_validity | 0.41 | [0.36, 0.46] | >= 0.9 | **fail** |" in table


# --- the CLI ---------------------------------------------------------------------------


def fitsense(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fitsense_cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_model_list_shows_capabilities_and_the_failed_criteria(
    isolated_env: dict[str, str], repo_root: Path
) -> None:
    url = isolated_env["FITSENSE_DATABASE_URL"]
    migrate(url)
    registry.register(url, version_with("cap-none-0001", gate_passing()))
    registry.register(url, version_with("cap-plan-0002", gate_passing("plan_creation")))
    out = fitsense(["model", "list"], isolated_env, repo_root)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    [partial] = [line for line in lines if line.startswith("cap-plan-0002")]
    assert "candidate" in partial and "gate=partial" in partial
    assert "capabilities=plan_creation" in partial
    [none] = [line for line in lines if line.startswith("cap-none-0001")]
    assert "rejected" in none and "gate=FAIL" in none and "capabilities=none" in none
    assert "    failed plan_update: semantic_validity = 0.41 [0.36, 0.46], needs >= 0.9" in lines
    assert "    failed coach_reply: semantic_validity = 0.41 [0.36, 0.46], needs >= 0.9" in lines
    shown = fitsense(["model", "show", "cap-plan-0002"], isolated_env, repo_root)
    record = json.loads(shown.stdout)
    assert record["capabilities"] == ["plan_creation"] and len(record["failures"]) == 3
    refused = fitsense(["model", "promote", "cap-none-0001"], isolated_env, repo_root)
    assert refused.returncode == 1 and "passed no capability" in refused.stderr


def test_up_does_not_train_again_after_a_rejection(
    fresh_migrated_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fitsense up``'s decision before it starts anything: a rejected version is
    reported, with its failed criteria, instead of being trained again on every start."""
    from fitsense_cli.up import prepare_model

    url = fresh_migrated_db
    runs: list[str] = []
    assert prepare_model(url, True, lambda: runs.append("pipeline")) is None
    assert runs == ["pipeline"]  # nothing registered yet: the first start trains
    registry.register(url, version_with("cap-none-0001", gate_passing()))
    assert prepare_model(url, True, lambda: runs.append("pipeline")) is None
    assert runs == ["pipeline"]
    said = capsys.readouterr()
    text = said.out + said.err
    assert "cap-none-0001 was evaluated and passed no capability" in text
    assert "failed plan_creation: semantic_validity = 0.41" in text
    assert "fitsense pipeline run" in text


# --- the API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartialFront:
    """The serving proxy in front of a version that passed plan creation only."""

    database_url: str
    base_url: str
    api_key: str
    forwarded: Callable[[], int]  # requests the proxy passed to the model server


@pytest.fixture(scope="module")
def partial_front(
    database_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PartialFront]:
    """Its own database (the session's API database has its own serving version)."""
    import secrets

    from fitsense_serving.server import BackgroundProxy
    from fitsense_serving.supervisor import Supervisor
    from fitsense_serving.targets import registry_target

    url = database_factory("capabilities")
    migrate(url)
    register_test_version(
        url, tmp_path_factory.mktemp("artifacts"), VERSION, gate=gate_passing("plan_creation")
    )
    key = secrets.token_urlsafe(16)
    supervisor = Supervisor(
        registry_target(url), home=tmp_path_factory.mktemp("serving"), poll_interval_s=None
    )
    with BackgroundProxy(supervisor, api_key=key) as proxy:
        proxy.reconcile()
        assert supervisor.active is not None and supervisor.active.version == VERSION

        def forwarded() -> int:
            assert supervisor.active is not None
            return supervisor.active.served

        yield PartialFront(url, proxy.url, key, forwarded)


@pytest.fixture
async def partial_ai(partial_front: PartialFront):
    environ = ai_environ(partial_front.base_url, partial_front.api_key)
    async for client in ai_client(partial_front.database_url, environ):
        yield client


@pytest.fixture
async def partial_db(partial_front: PartialFront):
    import asyncpg

    conn = await asyncpg.connect(partial_front.database_url)
    try:
        yield conn
    finally:
        await conn.close()


def assert_not_capable(reason: str | None, capability: str) -> None:
    assert reason == f"{NOT_CAPABLE}: model version {VERSION} did not pass its {capability} gate"


@pytest.mark.anyio
async def test_the_api_asks_the_model_only_for_the_capabilities_it_passed(
    partial_ai, partial_db, partial_front: PartialFront
) -> None:
    headers, user_id = await onboarded(partial_ai)

    # Plan creation passed: the model is asked (its plan may still fail a check).
    before = partial_front.forwarded()
    r = await partial_ai.post("/plans/generate?wait=90", json={}, headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()["result"]
    for _ in range(40):  # the proxy counts a request once it has relayed the whole answer
        if partial_front.forwarded() == before + 1:
            break
        await asyncio.sleep(0.05)
    assert partial_front.forwarded() == before + 1
    [row] = await audit_rows(partial_db, user_id)
    assert row["model_version"] == VERSION and row["completion_tokens"] > 0
    if created["outcome"] == "ok":
        assert created["source"] == "student" and created["model_version"] == VERSION
    else:
        assert created["source"] == "rules"
        assert created["fallback_reason"] != "capability_not_passed"

    # Plan update failed its gate: the knowledge-based coach, the model never asked.
    before = partial_front.forwarded()
    r = await partial_ai.post(
        f"/plans/{created['plan_id']}/update?wait=90",
        json={"request": "The sessions felt too easy, make it harder."},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    updated = r.json()["result"]
    assert updated["source"] == "rules" and updated["outcome"] == "fallback"
    assert updated["model_version"] is None and r.json()["plan"]["source"] == "rules"
    assert updated["fallback_reason"] == "capability_not_passed"
    row = (await audit_rows(partial_db, user_id))[-1]
    assert row["context_type"] == "plan_update" and row["outcome"] == "fallback"
    assert row["model_version"] is None and row["completion_tokens"] is None
    assert_not_capable(row["error"], "plan_update")

    # The coach, one answer and a stream: coach_reply failed too.
    r = await partial_ai.post(
        "/coach", json={"question": "How should I warm up before squats?"}, headers=headers
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["source"] == "rules" and answer["outcome"] == "fallback"
    assert answer["model_version"] is None and answer["answer"]
    assert answer["fallback_reason"] == "capability_not_passed"

    r = await partial_ai.get("/coach/stream?q=How%20do%20I%20sleep%20better%3F", headers=headers)
    assert r.status_code == 200, r.text
    events = sse_events(r.text)
    assert [e for e, _ in events] == ["meta", "answer", "done"]
    assert events[0][1]["model_version"] is None and events[0][1]["source"] == "rules"
    assert events[-1][1]["outcome"] == "fallback"
    assert events[-1][1]["reason"] == "capability_not_passed"

    assert partial_front.forwarded() == before  # no completion was sent for any of them
    coach_rows = [r for r in await audit_rows(partial_db, user_id) if r["context_type"] == "coach"]
    assert len(coach_rows) == 2
    for row in coach_rows:
        assert row["outcome"] == "fallback" and row["model_version"] is None
        assert_not_capable(row["error"], "coach_reply")


@pytest.mark.anyio
async def test_an_emergency_is_still_triaged_first(partial_ai, partial_db) -> None:
    """The capability check comes after the safety policy: an emergency is refused by the
    policy whatever the version passed."""
    headers, user_id = await onboarded(partial_ai)
    r = await partial_ai.post("/coach", json={"question": CHEST_PAIN}, headers=headers)
    answer = r.json()
    assert answer["outcome"] == "refused" and answer["source"] == "policy"
    [row] = await audit_rows(partial_db, user_id)
    assert row["outcome"] == "refused" and row["error"] is None
    assert uuid.UUID(answer["interaction_id"]) == row["id"]


@pytest.mark.anyio
async def test_a_capability_monitoring_suspended_is_served_by_the_rules_coach(
    partial_ai, partial_db, partial_front: PartialFront
) -> None:
    """Plan creation passed its gate; monitoring then found it below the gate live and
    suspended it: the model is no longer asked, and the client is told why. Lifting the
    suspension gives the capability back to the model."""
    import psycopg

    from fitsense_core.student import suspensions

    reason = "live acceptance 40% of 20 model answers (95 % upper bound 61%) < 90%"
    with psycopg.connect(partial_front.database_url) as conn:
        assert suspensions.suspend(conn, VERSION, "plan_creation", reason)
        assert not suspensions.suspend(conn, VERSION, "plan_creation", "again")  # one open
    try:
        assert set(suspensions.active(partial_front.database_url, VERSION)) == {"plan_creation"}
        headers, user_id = await onboarded(partial_ai)
        before = partial_front.forwarded()
        r = await partial_ai.post("/plans/generate?wait=90", json={}, headers=headers)
        assert r.status_code == 201, r.text
        result = r.json()["result"]
        assert result["source"] == "rules" and result["outcome"] == "fallback"
        assert result["fallback_reason"] == "capability_suspended"
        assert partial_front.forwarded() == before
        [row] = await audit_rows(partial_db, user_id)
        assert row["error"] == (
            f"capability suspended: monitoring suspended plan_creation of model version "
            f"{VERSION}: {reason}"
        )
    finally:
        assert suspensions.lift(partial_front.database_url, VERSION, "plan_creation", "test")
    assert suspensions.active(partial_front.database_url, VERSION) == {}
    assert not suspensions.lift(partial_front.database_url, VERSION, "plan_creation", "again")

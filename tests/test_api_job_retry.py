"""A plan job stores its result once (issue 20, row 17): the plan version, its audit row
and the job's completion are one transaction, so a worker that dies between them leaves
nothing behind and the retry stores the one version."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from fitsense_api.ai import service as ai_service
from fitsense_api.ai.jobs import JobRunner
from tests.test_api_capacity import live_app, no_model, onboarded

pytestmark = pytest.mark.anyio


@pytest.fixture
def api_db(fresh_migrated_db: str) -> str:
    """A database of this test's own: the runner claims the oldest queued job, and tests
    before it in the session's shared API database can leave queued jobs behind (these
    tests claimed another test's job when run after test_api_sessions)."""
    return fresh_migrated_db


async def test_a_worker_dying_after_the_plan_insert_leaves_one_version_on_retry(
    api_db, db, monkeypatch
) -> None:
    environ = no_model(FITSENSE_API_AI_JOB_WORKERS="0")
    async with live_app(api_db, environ) as c:
        headers, user_id = await onboarded(c)
        r = await c.post("/plans/generate", json={}, headers=headers)
        assert r.status_code == 202, r.text
        job_id = uuid.UUID(r.json()["id"])
        runner = JobRunner(c.app.state.pool, c.app.state.ai, workers=1)

        real_record = ai_service.record

        async def dies(*args: object, **kwargs: object) -> uuid.UUID:
            raise asyncio.CancelledError  # the worker process is stopped here

        monkeypatch.setattr(ai_service, "record", dies)
        with pytest.raises(asyncio.CancelledError):
            await runner.run_one()
        monkeypatch.setattr(ai_service, "record", real_record)
        assert await db.fetchval("SELECT status FROM ai_jobs WHERE id = $1", job_id) == "running"

        await db.execute(
            "UPDATE ai_jobs SET lease_until = now() - interval '1 s' WHERE id = $1", job_id
        )
        assert await runner.run_one()

        job = await db.fetchrow(
            "SELECT status, plan_id, attempts FROM ai_jobs WHERE id = $1", job_id
        )
        versions = await db.fetch("SELECT id FROM workout_plans WHERE user_id = $1", user_id)
        audits = await db.fetchval("SELECT count(*) FROM ai_interactions WHERE job_id = $1", job_id)
    assert (job["status"], job["attempts"]) == ("succeeded", 2)
    assert [v["id"] for v in versions] == [job["plan_id"]]
    assert audits == 1


async def test_a_worker_whose_lease_was_taken_over_does_not_store_its_result(api_db, db) -> None:
    """A worker slower than its lease finds the job taken by another: what it made is
    rolled back, not stored next to the other worker's."""
    environ = no_model(FITSENSE_API_AI_JOB_WORKERS="0")
    async with live_app(api_db, environ) as c:
        headers, user_id = await onboarded(c)
        r = await c.post("/plans/generate", json={}, headers=headers)
        job_id = uuid.UUID(r.json()["id"])
        runner = JobRunner(c.app.state.pool, c.app.state.ai, workers=1)
        service = c.app.state.ai
        real_run_plan = service.run_plan

        async def overtaken(*args: object, **kwargs: object) -> object:
            # Another worker claims the job meanwhile (its attempt is counted).
            await db.execute("UPDATE ai_jobs SET attempts = attempts + 1 WHERE id = $1", job_id)
            return await real_run_plan(*args, **kwargs)

        service.run_plan = overtaken
        try:
            assert await runner.run_one()
        finally:
            del service.run_plan
        job = await db.fetchrow("SELECT status, plan_id FROM ai_jobs WHERE id = $1", job_id)
        versions = await db.fetchval(
            "SELECT count(*) FROM workout_plans WHERE user_id = $1", user_id
        )
    assert (job["status"], job["plan_id"], versions) == ("running", None, 0)

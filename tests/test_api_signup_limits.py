"""Signup and plan jobs cannot be used to exhaust the server (issue 20, row 7): signups are
limited per client address (429 with Retry-After, reserved before argon2, so attempts sent
at once get exactly the limit); argon2 runs on a bounded pool of its own (beyond its places,
503 with Retry-After); and one person may have only a few unfinished plan jobs (429)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import replace

import pytest

from fitsense_api.auth.passwords import Passwords
from fitsense_api.errors import Unavailable
from tests.api_helpers import assert_problem
from tests.test_api_capacity import live_app, no_model, onboarded
from tests.test_api_login_limits import app_from

pytestmark = pytest.mark.anyio


def signup(client, email: str | None = None):
    email = email or f"signup-{uuid.uuid4().hex[:12]}@example.com"
    return client.post(
        "/auth/signup", json={"name": "New", "email": email, "password": "a-long-password"}
    )


async def test_parallel_signups_from_one_address_get_exactly_its_limit(api_settings) -> None:
    settings = replace(api_settings, signup_max_per_client=5)
    async with app_from(settings, "203.0.113.9", "198.51.100.4") as (crowd, other):
        answers = await asyncio.gather(*(signup(crowd) for _ in range(14)))
        elsewhere = await signup(other)
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 5 + [429] * 9, codes
    for r in answers:
        if r.status_code == 429:
            assert_problem(r, 429)
            assert int(r.headers["retry-after"]) >= 1
    assert elsewhere.status_code == 201


async def test_probing_taken_emails_counts_against_the_address(api_settings) -> None:
    """The 409 tells a person their email is taken, also for case and space variants, and
    every probe counts: an address learns at most the limit's worth of emails."""
    settings = replace(api_settings, signup_max_per_client=3)
    async with app_from(settings, "203.0.113.10", "198.51.100.5") as (prober, owner):
        taken = f"Taken-{uuid.uuid4().hex[:8]}@Example.com"
        assert (await signup(owner, taken)).status_code == 201
        variants = [taken.lower(), f"  {taken.upper()} ", taken, taken]
        answers = [await signup(prober, email) for email in variants]
    assert [r.status_code for r in answers] == [409, 409, 409, 429]


async def test_argon2_runs_with_a_bounded_number_of_places() -> None:
    """Two hashes at once and three waiting: of twelve at once, seven are refused at once
    (503 with Retry-After) and never more than two run."""
    passwords = Passwords("argon2-fast", max_concurrent=2, max_waiting=3)
    release = threading.Event()
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_hash() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(10)
        with lock:
            running -= 1

    async def attempt() -> str:
        try:
            await passwords.run(slow_hash)
        except Unavailable as exc:
            assert int(exc.headers["Retry-After"]) >= 1
            return "refused"
        return "done"

    tasks = [asyncio.create_task(attempt()) for _ in range(12)]
    await asyncio.sleep(0.2)
    release.set()
    outcomes = sorted(await asyncio.gather(*tasks))
    passwords.close()
    assert outcomes == ["done"] * 5 + ["refused"] * 7
    assert peak == 2


async def test_signup_and_login_answer_503_while_argon2_is_saturated(api_settings) -> None:
    settings = replace(api_settings, password_hash_max_concurrent=1, password_hash_max_waiting=1)
    async with app_from(settings, "203.0.113.11") as (c,):
        passwords: Passwords = c._transport.app.state.passwords
        release = threading.Event()
        held = [asyncio.create_task(passwords.run(release.wait, 10)) for _ in range(2)]
        await asyncio.sleep(0.1)
        try:
            busy = await signup(c)
            login = await c.post(
                "/auth/login", json={"email": "a@example.com", "password": "whatever"}
            )
        finally:
            release.set()
            await asyncio.gather(*held)
        after = await signup(c)
    for r in (busy, login):
        assert "password" in assert_problem(r, 503)["detail"]
        assert int(r.headers["retry-after"]) >= 1
    assert after.status_code == 201


async def test_one_person_has_at_most_the_cap_of_unfinished_plan_jobs(api_db, db) -> None:
    environ = no_model(
        FITSENSE_API_AI_JOB_WORKERS="0",
        FITSENSE_API_AI_MAX_QUEUED_JOBS_PER_USER="3",
        FITSENSE_API_AI_RATE_PER_MINUTE="100",
    )
    async with live_app(api_db, environ) as c:
        headers, user_id = await onboarded(c)
        other, _ = await onboarded(c)
        answers = await asyncio.gather(
            *(c.post("/plans/generate", json={}, headers=headers) for _ in range(10))
        )
        others = await c.post("/plans/generate", json={}, headers=other)
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * 3 + [429] * 7, codes
    for r in answers:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
    assert others.status_code == 202
    reserved = await db.fetchval("SELECT count(*) FROM ai_requests WHERE user_id = $1", user_id)
    assert reserved == 3  # a refused job takes no AI request of the person's quota

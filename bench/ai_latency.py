"""Benchmark: the AI endpoints end to end, against the running API and the promoted student
on the CPU server.

For one onboarded person it measures, over loopback:

    plan generation    POST /plans/generate?wait=60 (synchronous path): request to stored
                       plan, p50/p95, and how many plans were the model's (outcome ok)
                       rather than the knowledge-based coach's (fallback)
    coach stream TTFT  POST /coach/stream: request to the first `token` event, p50/p95,
                       and the whole answer's time
    4 users at once    each generates a plan and streams a coach answer, concurrently:
                       p50/p95 of both, and the outcomes (ok / fallback / 503 busy)

Targets on 2 cores: plan p95 <= 8 s; coach TTFT p95 <= 0.5 s.

By default it starts the stack itself on the resolved database (which must hold a
promoted model version: `fitsense pipeline run` or `fitsense model promote`):
`fitsense serve` on a free port, then `fitsense api` calling it. `--api URL` uses a
running API instead (then the model server is whatever that API calls).

    python bench/ai_latency.py [--plans 10] [--questions 10] [--api http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from fitsense_core.settings import REPO_ROOT

ONBOARDING = {
    "profile": {
        "date_of_birth": "1991-04-02",
        "sex": "M",
        "height_cm": 181,
        "activity_level": "moderately_active",
    },
    "preferences": {
        "days_per_week": 4,
        "experience": "intermediate",
        "session_length_min": 60,
        "equipment": ["barbell", "dumbbell", "bench", "squat_rack", "cable_machine"],
    },
    "goals": ["muscle_gain"],
    "conditions": [],
    "medical_history": [
        {
            "kind": "injury",
            "body_region": "shoulder",
            "status": "recovering",
            "description": "rotator cuff strain",
            "occurred_on": "2026-06-01",
        }
    ],
    "medications": [],
    "allergies": [],
}
REQUESTS = (
    "Make me a plan to build muscle.",
    "I want to put on size. What should my week look like?",
)
QUESTIONS = (
    "How should I progress my bench press when the sets feel easy?",
    "How much sleep do I need to recover between sessions?",
    "How much protein should I eat to build muscle?",
    "How do I keep my back neutral in a Romanian deadlift?",
    "I'm sore after squats, should I still train legs tomorrow?",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(name: str, values: list[float], unit: str = "s") -> str:
    if not values:
        return f"  {name:<34} no samples"
    return (
        f"  {name:<34} n={len(values):<3} p50 {pct(values, 0.5):6.2f} {unit}  "
        f"p95 {pct(values, 0.95):6.2f} {unit}  max {max(values):6.2f} {unit}"
    )


def _wait_http(url: str, timeout_s: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{url} process exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    sys.exit(f"{url} did not become ready in {timeout_s:.0f} s (log: {log})")


def start_stack(home: Path, processes: list[subprocess.Popen]) -> str:
    """Start both servers, recording each in ``processes`` at once (so that a failure
    half-way still stops what was started)."""
    model_port, api_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "FITSENSE_MODEL_URL": f"http://127.0.0.1:{model_port}/v1",
        "FITSENSE_MODEL_API_KEY": secrets.token_urlsafe(16),
        "FITSENSE_API_LOG_LEVEL": "WARNING",
        "FITSENSE_API_AI_RATE_PER_MINUTE": "10000",
        "FITSENSE_API_AI_DAILY_QUOTA": "1000000",
        "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
    }
    fitsense = str(Path(sys.executable).with_name("fitsense"))
    for command, port, ready_s in (("serve", model_port, 180), ("api", api_port, 60)):
        log = home / f"{command}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [fitsense, command, "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        processes.append(process)
        _wait_http(f"http://127.0.0.1:{port}/ready", ready_s, process, log)
    return f"http://127.0.0.1:{api_port}"


async def new_person(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    r = await client.post(
        "/auth/signup", json={"name": "Bench", "email": email, "password": "a-long-password"}
    )
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    (await client.put("/onboarding", json=ONBOARDING, headers=headers)).raise_for_status()
    return headers


async def generate(client: httpx.AsyncClient, headers: dict, request: str) -> tuple[float, str]:
    started = time.perf_counter()
    r = await client.post("/plans/generate?wait=60", json={"request": request}, headers=headers)
    elapsed = time.perf_counter() - started
    if r.status_code == 503:
        return elapsed, "busy"
    r.raise_for_status()
    job = r.json()
    return elapsed, job["result"]["outcome"] if job.get("result") else job["status"]


async def stream(
    client: httpx.AsyncClient, headers: dict, question: str
) -> tuple[float | None, float, str]:
    started = time.perf_counter()
    first = None
    outcome = "?"
    async with client.stream(
        "POST", "/coach/stream", json={"question": question}, headers=headers
    ) as r:
        if r.status_code == 503:
            return None, time.perf_counter() - started, "busy"
        r.raise_for_status()
        event = None
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
                if event in ("token", "answer") and first is None:
                    first = time.perf_counter() - started
            elif line.startswith("data:") and event in ("done", "error"):
                outcome = json.loads(line.split(":", 1)[1])["outcome"]
    return first, time.perf_counter() - started, outcome


async def run(api: str, plans: int, questions: int) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=120) as client:
        headers = await new_person(client)
        # Warm-up: codebook load, grammar compilation paths, the first prompt evaluation.
        await generate(client, headers, REQUESTS[0])
        await stream(client, headers, QUESTIONS[0])

        plan_times, plan_outcomes = [], Counter()
        for i in range(plans):
            elapsed, outcome = await generate(client, headers, REQUESTS[i % len(REQUESTS)])
            plan_times.append(elapsed)
            plan_outcomes[outcome] += 1
        ttft, totals, coach_outcomes = [], [], Counter()
        for i in range(questions):
            first, total, outcome = await stream(client, headers, QUESTIONS[i % len(QUESTIONS)])
            if first is not None:
                ttft.append(first)
            totals.append(total)
            coach_outcomes[outcome] += 1

        people = [await new_person(client) for _ in range(4)]

        async def user(k: int):
            p = await generate(client, people[k], REQUESTS[k % len(REQUESTS)])
            s = await stream(client, people[k], QUESTIONS[k % len(QUESTIONS)])
            return p, s

        started = time.perf_counter()
        results = await asyncio.gather(*(user(k) for k in range(4)))
        wall = time.perf_counter() - started

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"api: {api}")
    print("one user at a time")
    print(summary("plan generation (end to end)", plan_times))
    print(f"    outcomes: {dict(plan_outcomes)}")
    print(summary("coach stream time to first token", ttft))
    print(summary("coach stream whole answer", totals))
    print(f"    outcomes: {dict(coach_outcomes)}")
    print(f"4 users at once (wall {wall:.1f} s)")
    print(summary("plan generation", [p[0] for p, _ in results]))
    print(f"    outcomes: {dict(Counter(p[1] for p, _ in results))}")
    print(summary("coach stream time to first token", [s[0] for _, s in results if s[0]]))
    print(f"    outcomes: {dict(Counter(s[2] for _, s in results))}")
    print("targets: plan p95 <= 8 s, coach TTFT p95 <= 0.5 s (one user at a time)")
    if plan_times:
        print(f"plan p95 {'meets' if pct(plan_times, 0.95) <= 8 else 'misses'} the target")
    if ttft:
        print(f"TTFT p95 {'meets' if pct(ttft, 0.95) <= 0.5 else 'misses'} the target")
    print(f"median plan {statistics.median(plan_times):.2f} s" if plan_times else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", help="a running API (default: start the stack here)")
    parser.add_argument("--plans", type=int, default=10, help="plans generated one at a time")
    parser.add_argument("--questions", type=int, default=10, help="coach answers streamed")
    args = parser.parse_args()
    processes: list[subprocess.Popen] = []
    api = args.api
    home = Path(tempfile.mkdtemp(prefix="fitsense-ai-bench-"))
    try:
        if api is None:
            print("starting fitsense serve and fitsense api ...", file=sys.stderr)
            api = start_stack(home, processes)
        asyncio.run(run(api.rstrip("/"), args.plans, args.questions))
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the API under load over loopback.

Loads synthetic people (with ~90 days of plans, workouts and daily signals) into a
scratch database on the resolved PostgreSQL server, gives each a bearer token, starts
`fitsense api` on it, and drives four endpoints at 32 concurrent keep-alive connections
with wrk (Debian's `wrk` package: `apt-get install wrk`; it costs the two cores far less
than a Python client) or, without it, an asyncio generator (aiohttp on uvloop, one
connection per coroutine; `--client asyncio` forces it). Each request carries the token
of the next synthetic person. For each endpoint it prints requests/s and p50/p95/p99:

    GET  /workouts?limit=20          a page of 20 sessions
    POST /workouts                   5 exercises x 3 sets
    PUT  /signals/sleep/{date}       one daily signal
    GET  /dashboard                  8 weeks

Targets on 2 cores with PostgreSQL on the same machine: p99 < 50 ms for each; >= 1,500
req/s for the list read; >= 400 req/s for the workout write. The load generator shares
the two cores with the server and PostgreSQL, so the figures are a floor.

    python bench/api_load.py [--seconds 10] [--connections 32] [--workers 2] [--users 40]
                             [--client wrk|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg

from fitsense_api.auth.security import new_token, token_digest
from fitsense_core.database import resolve_database, with_database
from fitsense_core.migrations import migrate
from fitsense_core.settings import REPO_ROOT, Settings
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.load import load_run

HISTORY_END = date.today()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(server_url: str, users: int) -> tuple[str, list[str], list[str]]:
    name = f"fitsense_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    migrate(url)
    config = SyntheticConfig(run_id="bench-api", n_users=users, seed=11, history_end=HISTORY_END)
    load_run(url, config.run_id, generate_run(config))
    tokens = []
    with psycopg.connect(url) as conn:
        user_ids = [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
        for user_id in user_ids:
            token = new_token()
            conn.execute(
                "INSERT INTO api_tokens (user_id, token_hash, expires_at) "
                "VALUES (%s, %s, now() + interval '1 day')",
                (user_id, token_digest(token)),
            )
            tokens.append(token)
        exercises = [
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM exercises WHERE NOT is_timed ORDER BY slug LIMIT 40"
            )
        ]
    return url, tokens, exercises


def start_api(url: str, port: int, workers: int, home: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "FITSENSE_DATABASE_URL": url,
        "FITSENSE_HOME": str(home),
        "FITSENSE_API_LOG_LEVEL": "WARNING",
        "FITSENSE_API_POOL_MAX": "16",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fitsense_cli",
            "api",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API exited: {process.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the API did not become ready within 60 s")


def workout_body(exercises: list[str], rng: random.Random) -> dict:
    started = HISTORY_END - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 600))
    return {
        "started_at": f"{started.isoformat()}T07:{rng.randint(10, 59)}:00+00:00",
        "notes": "bench",
        "exercises": [
            {
                "exercise_id": exercise,
                "sets": [
                    {"reps": rng.randint(5, 12), "weight_kg": rng.randint(10, 100), "rir": 2}
                    for _ in range(3)
                ],
            }
            for exercise in rng.sample(exercises, 5)
        ],
    }


def scenarios(exercises: list[str]):
    def list_workouts(rng: random.Random):
        return "GET", "/workouts?limit=20", None

    def log_workout(rng: random.Random):
        return "POST", "/workouts", workout_body(exercises, rng)

    def put_signal(rng: random.Random):
        day = HISTORY_END - timedelta(days=rng.randint(0, 300))
        return "PUT", f"/signals/sleep/{day.isoformat()}", {"hours": round(rng.uniform(5, 9), 2)}

    def dashboard(rng: random.Random):
        return "GET", "/dashboard?weeks=8", None

    return [
        ("GET /workouts (page of 20)", list_workouts, {"rps": 1500}),
        ("POST /workouts (5 x 3 sets)", log_workout, {"rps": 400}),
        ("PUT /signals/sleep/{date}", put_signal, {}),
        ("GET /dashboard", dashboard, {}),
    ]


async def drive(base: str, tokens: list[str], make, seconds: float, connections: int):
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        rng = random.Random(i)
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:
            while time.perf_counter() < stop_at:
                method, path, body = make(rng)
                data = json.dumps(body).encode() if body is not None else None
                started = time.perf_counter()
                async with session.request(
                    method, path, data=data, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


WRK_SCRIPT = """
local requests = {%(requests)s}
local tokens = {%(tokens)s}
local i = 0
request = function()
  i = i + 1
  local r = requests[(i %% #requests) + 1]
  local headers = {["Authorization"] = "Bearer " .. tokens[(i %% #tokens) + 1],
                   ["Content-Type"] = "application/json"}
  return wrk.format(r[1], r[2], headers, r[3])
end
done = function(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua(text: str) -> str:
    return "[==[" + text + "]==]"


def drive_wrk(base: str, tokens: list[str], make, seconds: float, connections: int) -> dict:
    rng = random.Random(7)
    requests = []
    for _ in range(2000):
        method, path, body = make(rng)
        payload = _lua(json.dumps(body)) if body is not None else "nil"
        requests.append(f"{{{_lua(method)}, {_lua(path)}, {payload}}}")
    script = WRK_SCRIPT % {
        "requests": ",".join(requests),
        "tokens": ",".join(_lua(t) for t in tokens),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", f.name, base],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        ).stdout
    finally:
        os.unlink(f.name)
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{out[-2000:]}")
    n, duration_us, p50, p95, p99, bad_status, socket_errors = map(int, line.split()[1:])
    return {
        "rps": n / (duration_us / 1e6),
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "bad": {"non-2xx": bad_status, "socket errors": socket_errors}
        if bad_status or socket_errors
        else {},
    }


def drive_asyncio(base: str, tokens: list[str], make, seconds: float, connections: int) -> dict:
    latencies, statuses, elapsed = asyncio.run(drive(base, tokens, make, seconds, connections))
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / elapsed,
        "p50": pct(ordered, 0.5),
        "p95": pct(ordered, 0.95),
        "p99": pct(ordered, 0.99),
        "bad": {s: n for s, n in statuses.items() if s >= 400},
    }


def pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--users", type=int, default=40, help="synthetic people to load")
    parser.add_argument(
        "--client", choices=("wrk", "asyncio"), default="wrk" if shutil.which("wrk") else "asyncio"
    )
    args = parser.parse_args()
    if args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --client asyncio")
    run = drive_wrk if args.client == "wrk" else drive_asyncio
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    settings = Settings.from_env()
    server_url = with_database(resolve_database(settings).url, "postgres")
    print(f"loading {args.users} synthetic people into a scratch database...", flush=True)
    url, tokens, exercises = prepare_database(server_url, args.users)
    port = _free_port()
    process = start_api(url, port, args.workers, settings.home / "bench-api")
    base = f"http://127.0.0.1:{port}"
    failed = False
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; API: {args.workers} worker(s); "
        f"{args.connections} connections, {args.seconds:.0f} s per endpoint, "
        f"load from {args.client}\n"
    )
    print(f"{'endpoint':32} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  status")
    try:
        for label, make, target in scenarios(exercises):
            run(base, tokens, make, 1.0, args.connections)  # warm-up
            result = run(base, tokens, make, args.seconds, args.connections)
            rps, p99, bad = result["rps"], result["p99"], result["bad"]
            misses = []
            if p99 >= 50:
                misses.append("p99 < 50 ms")
            if rps < target.get("rps", 0):
                misses.append(f">= {target['rps']} req/s")
            failed |= bool(bad) or bool(misses)
            note = f"  (misses: {', '.join(misses)})" if misses else ""
            print(
                f"{label:32} {rps:8.0f} {result['p50']:8.1f} {result['p95']:8.1f} "
                f"{p99:8.1f}  {bad or 'ok'}{note}"
            )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

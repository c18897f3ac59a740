"""Benchmark: generate synthetic users with ~90 days of history and bulk-load them.

For each size it prints wall time and rows/s for
  generate  the four generator stages alone,
  load      COPY of already generated data (one transaction),
  together  generation and load pipelined as the loader does it, into an empty
            database (the target figure: 10,000 users in under 60 s on 2 cores),
  rerun     the same again over the existing run, which it replaces.
Each size uses a scratch database on the resolved PostgreSQL server, dropped afterwards.

    python bench/synthetic.py [--sizes 1000 10000] [--seed 42]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from datetime import date

import psycopg

from fitsense_core.database import resolve_database, with_database
from fitsense_core.migrations import migrate
from fitsense_core.settings import Settings
from fitsense_core.synthetic import SyntheticConfig, TableSet, generate_run
from fitsense_core.synthetic.load import load_run

HISTORY_END = date(2026, 10, 31)


def db_rows(tablesets: list[TableSet]) -> int:
    return sum(
        n for ts in tablesets for name, n in ts.row_counts().items() if name != "user_traits"
    )


def scratch_database(server_url: str) -> str:
    name = f"fitsense_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench(n_users: int, seed: int, server_url: str) -> dict[str, float | int | str]:
    config = SyntheticConfig(
        run_id=f"bench-{n_users}", n_users=n_users, seed=seed, history_end=HISTORY_END
    )
    t0 = time.perf_counter()
    generated = list(generate_run(config))
    generate_s = time.perf_counter() - t0
    rows = db_rows(generated)

    names = [scratch_database(server_url), scratch_database(server_url)]
    try:
        load_url, together_url = (with_database(server_url, n) for n in names)
        migrate(load_url)
        migrate(together_url)
        load_s = load_run(load_url, config.run_id, generated).seconds
        del generated
        timings = []
        for _ in range(2):  # into an empty database, then replacing that same run
            t0 = time.perf_counter()
            report = load_run(together_url, config.run_id, generate_run(config))
            timings.append(time.perf_counter() - t0)
    finally:
        for name in names:
            drop_database(server_url, name)
    return {
        "users": n_users,
        "rows": rows,
        "generate_s": generate_s,
        "load_s": load_s,
        "together_s": timings[0],
        "rerun_s": timings[1],
        "strategy": report.strategy,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    target = resolve_database(Settings.from_env())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; PostgreSQL at {target.describe()}"
    )
    print(
        f"{'users':>7} {'rows':>11} | {'generate s':>10} {'rows/s':>10} | {'load s':>7} "
        f"{'rows/s':>10} | {'together s':>10} {'rows/s':>10} | {'rerun s':>7}  fk strategy"
    )
    for n in args.sizes:
        r = bench(n, args.seed, target.url)
        print(
            f"{r['users']:>7,} {r['rows']:>11,} | {r['generate_s']:>10.1f} "
            f"{r['rows'] / r['generate_s']:>10,.0f} | {r['load_s']:>7.1f} "
            f"{r['rows'] / r['load_s']:>10,.0f} | {r['together_s']:>10.1f} "
            f"{r['rows'] / r['together_s']:>10,.0f} | {r['rerun_s']:>7.1f}  {r['strategy']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

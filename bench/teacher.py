"""Benchmark: the offline teacher and the prompts → distillation dataset path.

Prints the knowledge-based coach's plans per second, then for each size the wall time of
every stage from the synthetic tables to the written dataset (contexts, prompts, teacher,
post-validation, QA reports, dataset). Target: 1,000 users (6,000 prompts) under 2 minutes
on 2 cores. Artifacts go to a temporary directory.

    python bench/teacher.py [--sizes 200 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import date

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.coach.plans import create_plan
from fitsense_core.distill import dataset_records, withhold_policy_answers, write_dataset
from fitsense_core.prompts import build_prompts
from fitsense_core.qa import (
    anomaly_report,
    bias_report,
    statistics_report,
    validate_answers,
    validation_report,
)
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import run_teacher
from fitsense_core.teacher.offline import OfflineTeacher

HISTORY_END = date(2026, 10, 31)


def timed(label: str, timings: dict[str, float], fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    timings[label] = time.perf_counter() - started
    return result


def bench(n_users: int, root: str) -> tuple[dict[str, float], dict[str, int]]:
    run = list(
        generate_run(
            SyntheticConfig(
                run_id=f"bench-{n_users}", n_users=n_users, seed=42, history_end=HISTORY_END
            )
        )
    )
    t: dict[str, float] = {}
    contexts = timed("contexts", t, user_contexts, *run)
    prompts = timed("prompts", t, build_prompts, f"bench-{n_users}", contexts)
    report = timed("teacher", t, run_teacher, prompts, OfflineTeacher())
    validated = timed("validation", t, validate_answers, prompts, report.answers)

    def reports():
        return (
            validation_report(validated),
            statistics_report(validated),
            anomaly_report(validated),
            bias_report(validated),
        )

    timed("qa_reports", t, reports)
    accepted = [v for v in validated if v.accepted]

    def dataset():
        deduplicated, dropped = dataset_records(accepted)
        records, withheld = withhold_policy_answers(deduplicated)
        return write_dataset(
            ArtifactStore(root),
            f"bench-{n_users}",
            records,
            teachers=dict(Counter(a.model for a in report.answers)),
            rejected=len(validated) - len(accepted),
            dropped=dropped,
            withheld=withheld,
        )

    manifest = timed("dataset", t, dataset)
    return t, {
        "prompts": len(prompts),
        "accepted": len(accepted),
        "records": manifest["records"],
        "failed": int(report.failure_rate * len(prompts)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )

    contexts = user_contexts(
        *generate_run(
            SyntheticConfig(run_id="bench-plans", n_users=300, seed=7, history_end=HISTORY_END)
        )
    )
    profiles = [c.profile for c in contexts.values()]
    started = time.perf_counter()
    for profile in profiles:
        create_plan(profile)
    elapsed = time.perf_counter() - started
    print(
        f"offline coach: {len(profiles) / elapsed:,.0f} plans/s ({len(profiles)} plans in "
        f"{elapsed:.2f} s)"
    )

    stages = ("contexts", "prompts", "teacher", "validation", "qa_reports", "dataset")
    print(
        f"{'users':>6} {'prompts':>8} {'records':>8} | "
        + " ".join(f"{s:>10}" for s in stages)
        + f" | {'total s':>8} {'prompts/s':>9}"
    )
    with tempfile.TemporaryDirectory() as root:
        for n in args.sizes:
            t, counts = bench(n, root)
            total = sum(t.values())
            print(
                f"{n:>6,} {counts['prompts']:>8,} {counts['records']:>8,} | "
                + " ".join(f"{t[s]:>10.1f}" for s in stages)
                + f" | {total:>8.1f} {counts['prompts'] / total:>9,.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

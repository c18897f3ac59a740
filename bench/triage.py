"""Benchmark and report: the two-layer safety triage.

Builds the triage model from the packaged corpus (train split; thresholds on validation),
prints its test-split figures (emergency recall and ordinary-question false escalation
with 95 % bootstrap intervals over cases, self-harm recall, the confusion matrix, the
rules alone for comparison), then times ``triage()`` one request at a time over the test
split's requests, as the API calls it. Target: p95 well under 20 ms on 2 cores.

    OMP_NUM_THREADS=1 python bench/triage.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from fitsense_core.safety import rule_triage, triage
from fitsense_core.safety.corpus import load_corpus
from fitsense_core.safety.training import build_model, gate_problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the test split")
    args = parser.parse_args()
    started = time.perf_counter()
    model = build_model()
    print(
        f"built in {time.perf_counter() - started:.1f} s on {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()})"
    )
    report = model.report
    print(f"embedder: {report['embedder']}; thresholds: {report['thresholds']}")
    for split in ("validation", "test"):
        r = report[split]
        print(
            f"{split}: {r['rows']} requests / {r['cases']} cases; emergency recall "
            f"{r['emergency_recall']:.3f} CI95 {r['emergency_recall_ci95']} (rules alone "
            f"{r['rules_only_emergency_recall']:.3f}); self-harm recall "
            f"{r['self_harm_recall']:.3f}; ordinary false escalation "
            f"{r['false_escalation']:.3f} CI95 {r['false_escalation_ci95']}; clearance "
            f"recall {r['clearance_recall']:.3f}; injury recall {r['injury_recall']:.3f}"
        )
    print("test confusion (rows: true level, columns: two-layer level):")
    levels = list(report["test"]["confusion"])
    print(f"{'':>16}" + "".join(f"{lv:>16}" for lv in levels))
    for true, row in report["test"]["confusion"].items():
        print(f"{true:>16}" + "".join(f"{row[p]:>16}" for p in levels))
    print("missed emergencies:", report["test"]["emergency_missed"])
    print("gate:", gate_problems(report) or "passes")
    texts = [r.text for r in load_corpus() if r.split == "test"]
    triage(texts[0], model=model)  # the encoder loads once per process
    for name, fn in (
        ("rules alone", lambda t: rule_triage(t)),
        ("two layers", lambda t: triage(t, model=model)),
    ):
        times = []
        for _ in range(args.repeat):
            for text in texts:
                t0 = time.perf_counter()
                fn(text)
                times.append((time.perf_counter() - t0) * 1000)
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        print(
            f"{name}: {len(times)} requests, p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
            f"p99 {p99:.2f} ms, max {max(times):.2f} ms"
        )


if __name__ == "__main__":
    main()

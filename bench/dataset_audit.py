"""Re-run issue 17's dataset audit on a finished run's stored artifacts, read-only.

    .venv/bin/python bench/dataset_audit.py quickstart            # the run `make run` builds
    .venv/bin/python bench/dataset_audit.py c20 --store ./artifacts --json

Prints the QA report's headline table and the audit's measures, each against the target
the issue set, and exits 1 when any target is missed:

- emergency-level records in train and val (target 0: the safety policy answers them);
- reply targets in the compact training set that open with a safety preamble (< 5 %);
- test requests that also occur in train or val, normalised (0);
- silent drops: train/val records that are neither in the training set nor counted in its
  manifest's drops (0);
- canary recall (100 %);
- the model's bias report: at least one slice that differs, or an explanation why none does.

Needs the run's dataset, training set and QA reports; the bias measure needs its evaluation
(``student_evaluation``) and is reported as missing otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import LEARNED_SPLITS, POLICY_LEVELS, SPLITS, read_split
from fitsense_core.safety import normalise
from fitsense_core.settings import Settings
from fitsense_core.student.data import safety_preamble
from fitsense_core.student.training_set import read_training_set

PREAMBLE_LIMIT = 0.05


def _stored(store: ArtifactStore, *parts: str) -> dict[str, Any] | None:
    return store.read_json(*parts) if store.exists(*parts) else None


def audit(store: ArtifactStore, run_id: str) -> dict[str, Any]:
    """The audit's measures for ``run_id`` (see the module docstring), with pass/fail."""
    records = {split: read_split(store, run_id, split) for split in SPLITS}
    emergencies = {
        split: sum(r["metadata"]["expected_safety_level"] in POLICY_LEVELS for r in records[split])
        for split in LEARNED_SPLITS
    }
    seen = {normalise(r["metadata"]["request"]) for s in LEARNED_SPLITS for r in records[s]}
    leaked = sorted(
        {
            r["metadata"]["request"]
            for r in records["test"]
            if normalise(r["metadata"]["request"]) in seen
        }
    )

    examples, _codebook, manifest = read_training_set(store, run_id)
    replies = [
        e for split in LEARNED_SPLITS for e in examples[split] if e["output_type"] == "reply"
    ]
    preambles = Counter(
        p for p in (safety_preamble(e["completion"][-1]["content"]) for e in replies) if p
    )
    preamble_share = sum(preambles.values()) / len(replies) if replies else 0.0

    offered = sum(len(records[s]) for s in LEARNED_SPLITS)
    kept = sum(len(examples[s]) for s in LEARNED_SPLITS)
    counted = manifest["dropped"]["count"]
    silent = offered - kept - counted

    canaries = _stored(store, *layout.qa_report(run_id, "canaries"))
    evaluation = _stored(store, *layout.evaluation_report(run_id))
    bias = (evaluation or {}).get("bias_by_people")
    validation = _stored(store, *layout.qa_report(run_id, "validation")) or {}
    dataset = store.read_json(*layout.distillation_manifest(run_id))

    measures = {
        "emergency_records_in_train_val": {
            "value": sum(emergencies.values()),
            "by_split": emergencies,
            "target": "0",
            "passed": not any(emergencies.values()),
        },
        "reply_targets_with_preamble": {
            "value": round(preamble_share, 4),
            "count": sum(preambles.values()),
            "of": len(replies),
            "openings": dict(preambles.most_common(5)),
            "target": f"< {PREAMBLE_LIMIT:.0%}",
            "passed": preamble_share < PREAMBLE_LIMIT,
        },
        "test_requests_seen_in_train": {
            "value": len(leaked),
            "examples": leaked[:5],
            "test_records": len(records["test"]),
            "target": "0",
            "passed": not leaked,
        },
        "silent_drops": {
            "value": silent,
            "offered": offered,
            "kept": kept,
            "dropped_and_counted": counted,
            "by_reason": manifest["dropped"].get("by_reason", {}),
            "target": "0",
            "passed": silent == 0,
        },
        "canary_recall": {
            "value": canaries and canaries["recall"],
            "planted": canaries and canaries["planted"],
            "target": "100 %",
            "passed": bool(canaries) and canaries["recall"] == 1.0,
        },
        "bias_report": {
            "value": None if bias is None else len(bias["differs"]),
            "differs": None if bias is None else bias["differs"][:5],
            "explanation": None if bias is None else bias.get("explanation"),
            "target": "a slice that differs, or an explanation why none does",
            "passed": bias is not None and bool(bias["differs"] or bias.get("explanation")),
        },
    }
    return {
        "run_id": run_id,
        "qa": {
            "total": validation.get("total"),
            "accepted": validation.get("accepted"),
            "rejected": validation.get("rejected"),
            "pass_rate": validation.get("pass_rate"),
            "rejections_by_reason": validation.get("rejections_by_reason", {}),
        },
        "dataset": {
            "records": dataset["records"],
            "by_split": {s: f["records"] for s, f in dataset["files"].items()},
            "withheld_emergencies": dataset.get("withheld", {}).get("count"),
            "duplicates_dropped": (
                dataset.get("dropped", {}).get("duplicates", {}).get("candidates", 0)
                - dataset.get("dropped", {}).get("duplicates", {}).get("kept", 0)
            ),
            "duplicate_share": dataset.get("dropped", {})
            .get("duplicates", {})
            .get("duplicate_share"),
        },
        "training_set": {
            "max_length": manifest["max_length"],
            "kept": manifest["kept"],
            "dropped": manifest["dropped"]["count"],
        },
        "measures": measures,
        "passed": all(m["passed"] for m in measures.values()),
    }


def _print(report: dict[str, Any]) -> None:
    qa, data = report["qa"], report["dataset"]
    print(f"run {report['run_id']}")
    print("\nQA headline")
    print("| answers | accepted | rejected | pass rate |")
    print("|---|---|---|---|")
    print(f"| {qa['total']} | {qa['accepted']} | {qa['rejected']} | {qa['pass_rate']} |")
    for reason, n in qa["rejections_by_reason"].items():
        print(f"  rejected for {reason}: {n}")
    print(
        f"\ndataset: {data['records']} records {data['by_split']}, "
        f"{data['withheld_emergencies']} emergencies withheld, "
        f"{data['duplicates_dropped']} duplicates dropped ({data['duplicate_share']})"
    )
    ts = report["training_set"]
    print(
        f"training set: max_length {ts['max_length']}, kept {ts['kept']}, dropped {ts['dropped']}"
    )
    print("\n| measure | value | target | passed |")
    print("|---|---|---|---|")
    for name, m in report["measures"].items():
        print(f"| {name} | {m['value']} | {m['target']} | {'yes' if m['passed'] else 'NO'} |")
    bias = report["measures"]["bias_report"]
    if bias["differs"]:
        print("\nslices that differ:", json.dumps(bias["differs"]))
    elif bias["explanation"]:
        print("\nbias:", bias["explanation"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_id", help="the run whose artifacts to audit (make run: quickstart)")
    parser.add_argument(
        "--store", help="artifact store root or URI (default: the configured FITSENSE store)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    store = ArtifactStore(args.store or Settings.from_env().artifact_root)
    report = audit(store, args.run_id)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print(report)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the student's default training run on this machine.

Prints seconds per step, tokens per second, peak resident memory and total time for the
default TrainingConfig on a distillation dataset (default: run `quickstart`, made by
`make run`). Target on 2 CPU cores: total <= 15 min, peak RSS <= 8 GB.

    python bench/train.py [--run-id quickstart] [--steps N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import read_split
from fitsense_core.settings import Settings
from fitsense_core.student.compact import build_codebook
from fitsense_core.student.data import teacher_plans
from fitsense_core.student.training import (
    TrainingConfig,
    prepare_base_model,
    set_threads,
    train_student,
)
from fitsense_core.student.training_set import build_training_set, tokenizer_counter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", default="quickstart")
    parser.add_argument("--steps", type=int, default=0, help="override max_steps")
    args = parser.parse_args()
    settings = Settings.from_env()
    store = ArtifactStore(settings.artifact_root)
    if not store.exists(*layout.distillation_manifest(args.run_id)):
        print(
            f"no dataset for run {args.run_id}: run `make run` (or fitsense pipeline run "
            f"--job dataset --run-id {args.run_id}) first",
            file=sys.stderr,
        )
        return 2
    splits = {s: read_split(store, args.run_id, s) for s in ("train", "val", "test")}
    codebook = build_codebook(teacher_plans([r for rs in splits.values() for r in rs]))
    config = TrainingConfig()
    if args.steps:
        config = replace(config, max_steps=args.steps)
    set_threads()
    started = time.perf_counter()
    base = prepare_base_model("", layout.base_model_cache(settings.home))
    prepared = time.perf_counter() - started
    # The examples the pipeline's student_training_set asset would store.
    built = build_training_set(splits, codebook, tokenizer_counter(base.path), config.max_length)
    train, val = built.examples["train"], built.examples["val"]
    with tempfile.TemporaryDirectory() as out:
        result = train_student(
            config, base, train, val, Path(out), progress=lambda m: print(m, flush=True)
        )
    total = time.perf_counter() - started
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, device {result.device}")
    print(
        f"config: {config.max_steps} steps x batch {config.batch_size} x accumulation "
        f"{config.grad_accumulation}, max_length {config.max_length}, LoRA r={config.lora_r}"
    )
    print(
        f"examples: {result.train_examples} train, {result.eval_examples} validation, "
        f"{len(built.dropped)} left out as longer than max_length"
    )
    print(f"base model ready in {prepared:.1f} s")
    print(
        f"training: {result.seconds:.1f} s, {result.seconds / result.steps:.2f} s/step, "
        f"{result.tokens_seen / result.seconds:.0f} tokens/s ({result.tokens_seen:,} tokens)"
    )
    print(
        f"loss: {result.metrics['first_train_loss']:.3f} -> "
        f"{result.metrics['last_train_loss']:.3f}; validation "
        f"{result.metrics['final_eval_loss']:.3f}"
    )
    print(f"peak RSS: {result.peak_rss_mb / 1024:.2f} GB; total {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: plan generation latency through the CPU server with the serving student.

Starts llama-cpp-python's OpenAI-compatible server on the promoted student's GGUF, sends
at least 50 plan prompts from the test split with per-request constrained decoding (the
per-person GBNF grammar), and prints p50/p95 latency, completion tokens per second and the
share of valid plans.
Target: p95 <= 8 s on 2 CPU cores.

    python bench/plan_latency.py [--run-id quickstart] [--prompts 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from openai import OpenAI

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.database import resolve_database
from fitsense_core.distill import read_split
from fitsense_core.inference import serve
from fitsense_core.settings import Settings
from fitsense_core.student.compact import Codebook
from fitsense_core.student.data import task_from_record
from fitsense_core.student.registry import serving
from fitsense_serving.llama_server import llama_server


def local(store: ArtifactStore, uri: str) -> Path:
    prefix = store.uri()
    return Path(store.local_path(*uri.removeprefix(prefix).strip("/").split("/")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", default="quickstart")
    parser.add_argument("--prompts", type=int, default=50)
    args = parser.parse_args()
    settings = Settings.from_env()
    store = ArtifactStore(settings.artifact_root)
    version = serving(resolve_database(settings).url)
    if version is None:
        print("no student is serving: run `make run` first", file=sys.stderr)
        return 2
    codebook = Codebook.from_json(local(store, version.codebook_uri).read_text())
    records = [
        r
        for s in ("test", "val", "train")
        for r in read_split(store, args.run_id, s)
        if r["metadata"]["output_type"] == "plan"
    ][: args.prompts]
    if len(records) < args.prompts:
        print(f"only {len(records)} plan prompts available", file=sys.stderr)
    latencies, tokens, valid = [], 0, 0
    with llama_server(
        local(store, version.gguf_uri),
        model_alias=version.version,
        api_key="bench",
        log_path=settings.home / "logs" / "bench-latency.log",
    ) as server:
        client = OpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
        for record in records:
            task = task_from_record(record)
            request = serve.model_request(task, codebook, "llama-cpp")
            started = time.perf_counter()
            response = client.chat.completions.create(
                model=version.version,
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=0,
                extra_body=request.extra_body,
            )
            latencies.append(time.perf_counter() - started)
            tokens += response.usage.completion_tokens
            judgement = serve.judge_plan(response.choices[0].message.content, codebook, task)
            valid += judgement.reason is None
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; model {version.version}")
    print(
        f"{len(latencies)} plans: p50 {pct(0.5):.2f} s, p95 {pct(0.95):.2f} s, max "
        f"{ordered[-1]:.2f} s; {tokens / sum(latencies):.1f} completion tokens/s; "
        f"{valid}/{len(latencies)} valid for the person"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

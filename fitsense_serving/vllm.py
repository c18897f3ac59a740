"""The production GPU server: the ``vllm serve`` command for one registry version.

vLLM is CUDA-only and is not installed here (``../shared/STACK.md``); this module only
builds its command line, so that a GPU host runs exactly what we document and test. Two
ways to serve a version:

- ``merged``: the merged fine-tuned weights (``models/student/<version>/merged``) under
  ``--served-model-name fitsense-student-<version>``.
- ``lora``: the base model with the version's adapter as a named LoRA module, so that
  several versions can share one GPU and a rollback is only a different ``model`` name.
  Only the adapter answers to the versioned name; requests for the base use its path.

Both keep the SPEC §6 limits (``--max-model-len 4096``, ``--max-num-seqs 2``), bind to
127.0.0.1 unless told otherwise (vLLM checks its key only under ``/v1`` and a few other
prefixes, so it belongs on a private network) and take the key from the environment:
the printed command says ``"$FITSENSE_MODEL_API_KEY"``, never the key itself.

Structured output differs between the servers: vLLM takes the OpenAI-style
``response_format={"type": "json_schema", ...}``
(:func:`fitsense_core.inference.serve.json_schema_constraint`), while llama.cpp takes a
GBNF grammar (:func:`~fitsense_core.inference.serve.llama_cpp_constraint`) and answers
HTTP 500 to ``json_schema``. The API's client chooses the form for the server it talks to.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Any, Literal, NoReturn

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import ConfigurationError
from fitsense_core.inference.endpoint import served_model_name
from fitsense_core.student.registry import ModelVersion
from fitsense_serving.targets import ServingError

VllmMode = Literal["merged", "lora"]
MAX_MODEL_LEN = 4096
MAX_NUM_SEQS = 2
DEFAULT_LORA_RANK = 16


def lora_rank(training_config: dict[str, Any]) -> int:
    """The adapter's rank as training recorded it (vLLM must be told the largest rank)."""
    for key in ("lora_r", "r"):
        if training_config.get(key) is not None:
            return int(training_config[key])
    return DEFAULT_LORA_RANK


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def _local(uri: str, what: str, version: str) -> str:
    if is_remote(uri):
        raise ConfigurationError(
            f"the {what} of version {version} is at {uri}, and vLLM needs a local directory: "
            "download it first (fetch_model_dir) and pass its path as model_path"
        )
    return uri.removeprefix("file://")


def vllm_command(
    version: ModelVersion,
    *,
    mode: VllmMode,
    host: str = "127.0.0.1",
    port: int = 8090,
    api_key_env: str = "FITSENSE_MODEL_API_KEY",
    base_model: str | None = None,
    model_path: str | None = None,
) -> list[str]:
    """The ``vllm serve`` argv for ``version``.

    ``model_path`` replaces the version's merged directory (``merged``) or adapter
    directory (``lora``) when those are remote and were downloaded. ``base_model`` (lora)
    is a Hugging Face directory or hub id; default the version's recorded base, which must
    not be a GGUF file (vLLM applies LoRA to dense weights). The key is the literal
    reference ``$<api_key_env>``: see :func:`printable_command` and :func:`exec_vllm`.
    """
    if not api_key_env.isidentifier():
        raise ConfigurationError(f"{api_key_env!r} is not an environment variable name")
    name = served_model_name(version.version)
    if mode == "merged":
        merged = model_path or _local(version.merged_uri, "merged model", version.version)
        head = ["vllm", "serve", merged, "--served-model-name", name]
    elif mode == "lora":
        base = base_model or version.base_model
        if not base or base.endswith(".gguf") or is_remote(base):
            raise ConfigurationError(
                f"version {version.version} was trained from {base or '(unknown base)'}: "
                "LoRA on vLLM needs the dense base weights as a local directory or hub id "
                "(the pipeline stores them under models/base/<digest>/ in the artifact store); "
                "pass base_model"
            )
        adapter = model_path or _local(version.adapter_uri, "LoRA adapter", version.version)
        head = [
            "vllm",
            "serve",
            base,
            "--enable-lora",
            "--lora-modules",
            f"{name}={adapter}",
            "--max-lora-rank",
            str(lora_rank(version.training_config)),
        ]
    else:
        raise ConfigurationError(f"unknown vLLM mode {mode!r}: use merged or lora")
    return [
        *head,
        "--max-model-len",
        str(MAX_MODEL_LEN),
        "--max-num-seqs",
        str(MAX_NUM_SEQS),
        "--host",
        host,
        "--port",
        str(port),
        "--api-key",
        f"${api_key_env}",
    ]


def printable_command(argv: list[str]) -> str:
    """A shell line for ``argv`` in which ``$VAR`` references still expand."""
    return " ".join(
        f'"{arg}"' if arg.startswith("$") and arg[1:].isidentifier() else shlex.quote(arg)
        for arg in argv
    )


def fetch_model_dir(uri: str, dest: Path) -> Path:
    """A local directory for a model directory in the artifact store (downloaded once)."""
    if not is_remote(uri):
        return Path(uri.removeprefix("file://"))
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    return ArtifactStore(uri).download_dir(dest)


def exec_vllm(argv: list[str], *, api_key: str) -> NoReturn:
    """Replace this process with vLLM. The key goes in through ``VLLM_API_KEY`` rather
    than the command line, where any user on the host could read it in ``ps``."""
    executable = shutil.which(argv[0])
    if executable is None:
        raise ServingError(
            "vLLM is not installed on this machine: `fitsense serve --backend vllm` runs on "
            "GPU hosts only (CUDA; pip install vllm there). The command it runs:\n  "
            + printable_command(argv)
        )
    if "--api-key" in argv:
        at = argv.index("--api-key")
        argv = argv[:at] + argv[at + 2 :]
    os.execve(executable, argv, {**os.environ, "VLLM_API_KEY": api_key})

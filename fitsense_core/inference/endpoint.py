"""Where the model endpoint lives and how callers authenticate to it.

Both sides read this: ``fitsense serve`` (which listens there) and the API (which calls
it). The endpoint is the serving front of ``fitsense serve``: a small proxy on a stable
port in front of the llama.cpp server(s), so that a new model version can be switched in
without the API noticing more than the version name in its answers.

- ``FITSENSE_MODEL_URL``: the OpenAI-compatible base URL, ending in ``/v1`` (default
  ``http://127.0.0.1:8090/v1``). Point it at any OpenAI-compatible server (vLLM on a GPU
  host, for example) to use that instead.
- ``FITSENSE_MODEL_API_KEY``: the bearer key. Unset: a random key created once under
  ``$FITSENSE_HOME/model_api_key`` (mode 0600), which both sides read.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fitsense_core.errors import ConfigurationError
from fitsense_core.settings import Settings

DEFAULT_MODEL_URL = "http://127.0.0.1:8090/v1"
SERVED_NAME_PREFIX = "fitsense-student-"


def served_model_name(version: str) -> str:
    """The model name a server answers to for one registry version."""
    return f"{SERVED_NAME_PREFIX}{version}"


def version_of(served_name: str) -> str:
    """The registry version behind a served model name (the name itself when foreign)."""
    return served_name.removeprefix(SERVED_NAME_PREFIX)


def _key_file(home: Path) -> Path:
    return home / "model_api_key"


def local_api_key(home: Path) -> str:
    """The key stored under ``home``, created on first use."""
    path = _key_file(home)
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


# The context, in tokens, of the llama.cpp servers `fitsense serve` runs; the API sends no
# request that may not fit it (FITSENSE_MODEL_CONTEXT_TOKENS where another server serves).
SERVED_CONTEXT_TOKENS = 2048


@dataclass(frozen=True)
class ModelEndpoint:
    base_url: str
    api_key: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ModelEndpoint:
        env = os.environ if environ is None else environ
        url = (env.get("FITSENSE_MODEL_URL") or DEFAULT_MODEL_URL).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"FITSENSE_MODEL_URL must be an http(s) URL such as {DEFAULT_MODEL_URL}, "
                f"got {url!r}"
            )
        key = env.get("FITSENSE_MODEL_API_KEY") or local_api_key(Settings.from_env(env).home)
        return cls(base_url=url, api_key=key)

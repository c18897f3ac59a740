"""Secret settings: from the environment, a mounted file, or Google Secret Manager.

Four settings hold secrets: ``FITSENSE_DATABASE_URL`` and ``FITSENSE_DAGSTER_STORAGE_URL``
(their passwords), ``FITSENSE_MODEL_API_KEY`` and ``FITSENSE_TEACHER_API_KEY``. Each may be
given in one of three ways:

- the value itself, ``NAME=value`` (Cloud Run's ``secret_key_ref`` env does this);
- a file holding it, ``NAME_FILE=/path`` (a Kubernetes Secret volume, a systemd
  credential); one trailing newline is dropped;
- a Secret Manager reference, ``NAME=sm://<secret-id>`` (the project from
  ``GOOGLE_CLOUD_PROJECT``, version ``latest``), ``sm://<secret-id>/versions/<v>`` or
  ``sm://projects/<project>/secrets/<secret-id>/versions/<v>``; read with the
  ``google-cloud-secret-manager`` client and the workload's own credentials.

``load_secrets`` resolves all four once, before anything reads them, and puts the values
in the environment, so every reader (and every child process) sees plain values.
Messages name the setting and where its value came from, never the value; every value
loaded is also registered with ``redact``, which the JSON log formatters apply.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from fitsense_core.errors import ConfigurationError

SECRET_SETTINGS = (
    "FITSENSE_DATABASE_URL",
    "FITSENSE_DAGSTER_STORAGE_URL",
    "FITSENSE_MODEL_API_KEY",
    "FITSENSE_TEACHER_API_KEY",
)
SECRET_MANAGER_PREFIX = "sm://"
ACCESS_TIMEOUT_S = 30

_ID = r"[A-Za-z0-9_-]{1,255}"
_FULL_REF = re.compile(rf"^projects/({_ID})/secrets/({_ID})(?:/versions/({_ID}))?$")
_SHORT_REF = re.compile(rf"^({_ID})(?:/versions/({_ID}))?$")

# Reads one Secret Manager version by its full resource name.
Accessor = Callable[[str], str]

_known_values: set[str] = set()
_lock = threading.Lock()
_client = None


def secret_version_name(reference: str, environ: MutableMapping[str, str]) -> str:
    """The full version name ``projects/p/secrets/s/versions/v`` of an ``sm://`` reference."""
    body = reference.removeprefix(SECRET_MANAGER_PREFIX)
    full = _FULL_REF.match(body)
    if full:
        project, secret, version = full.groups()
    else:
        short = _SHORT_REF.match(body)
        if not short:
            raise ConfigurationError(
                f"{reference!r} is not a Secret Manager reference: use sm://<secret-id>, "
                "sm://<secret-id>/versions/<version> or "
                "sm://projects/<project>/secrets/<secret-id>/versions/<version>"
            )
        secret, version = short.groups()
        project = environ.get("GOOGLE_CLOUD_PROJECT") or environ.get("GCLOUD_PROJECT")
        if not project:
            raise ConfigurationError(
                f"{reference} names no project: set GOOGLE_CLOUD_PROJECT or use "
                "sm://projects/<project>/secrets/<secret-id>/versions/<version>"
            )
    return f"projects/{project}/secrets/{secret}/versions/{version or 'latest'}"


def secret_manager_accessor(client: Any | None = None) -> Accessor:
    """Reads versions with Google's client: ``client``, else one created on first use
    with the workload's default credentials."""

    def access(name: str) -> str:
        global _client
        used = client
        if used is None:
            with _lock:
                if _client is None:
                    from google.cloud import secretmanager

                    _client = secretmanager.SecretManagerServiceClient()
                used = _client
        response = used.access_secret_version(request={"name": name}, timeout=ACCESS_TIMEOUT_S)
        return response.payload.data.decode("utf-8")

    return access


def _from_file(setting: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"{setting}_FILE={path}: cannot read the secret file ({exc.strerror or exc})"
        ) from exc
    return text[:-1] if text.endswith("\n") else text


def resolve_secret(
    environ: MutableMapping[str, str], setting: str, accessor: Accessor | None = None
) -> tuple[str, str] | None:
    """``(value, source)`` of one secret setting, or None when it is not set.

    ``source`` says where the value came from (``env``, ``file /path`` or
    ``secret-manager projects/…``) and is safe to print."""
    raw = environ.get(setting) or ""
    path = environ.get(f"{setting}_FILE") or ""
    if raw and path:
        raise ConfigurationError(f"set {setting} or {setting}_FILE, not both")
    if path:
        value, source = _from_file(setting, path), f"file {path}"
    elif raw.startswith(SECRET_MANAGER_PREFIX):
        name = secret_version_name(raw, environ)
        try:
            value = (accessor or secret_manager_accessor())(name)
        except ConfigurationError:
            raise
        except Exception as exc:  # the client's errors: permission, not found, network
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ConfigurationError(
                f"{setting}: cannot read Secret Manager secret {name}: {reason}"
            ) from exc
        source = f"secret-manager {name}"
    elif raw:
        value, source = raw, "env"
    else:
        return None
    if not value:
        raise ConfigurationError(f"{setting} is empty ({source})")
    return value, source


def load_secrets(
    environ: MutableMapping[str, str] | None = None, accessor: Accessor | None = None
) -> dict[str, str]:
    """Resolve every secret setting into ``environ`` (default ``os.environ``).

    Idempotent: a resolved file setting is replaced by its value (``NAME_FILE`` removed)
    and an ``sm://`` reference by the secret. Returns ``{setting: source}``."""
    env = os.environ if environ is None else environ
    sources: dict[str, str] = {}
    for setting in SECRET_SETTINGS:
        resolved = resolve_secret(env, setting, accessor)
        if resolved is None:
            continue
        value, source = resolved
        env[setting] = value
        env.pop(f"{setting}_FILE", None)
        remember_secret(value)
        sources[setting] = source
    return sources


def remember_secret(value: str) -> None:
    """Register a value that ``redact`` must hide (of a URL, its password)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        is_url, password = bool(parts.scheme and parts.netloc), parts.password
    except ValueError:
        is_url, password = False, None
    # A URL's secret is its password; the rest (host, database) is printed on purpose.
    secret = password if is_url else value
    if secret and len(secret) >= 4:
        with _lock:
            _known_values.add(secret)


def redact(text: str) -> str:
    """``text`` with every loaded secret value replaced by ``***``."""
    with _lock:
        values = sorted(_known_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, "***")
    return text

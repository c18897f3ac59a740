"""What ``fitsense serve`` should serve: a model version's name and its GGUF file.

A :data:`TargetSource` answers, on every poll of the supervisor, which version should
serve now: the registry's serving version (:func:`registry_target`), one pinned registry
version (:func:`pinned_target`) or any GGUF file under a chosen name (:func:`gguf_target`).
:func:`resolve_gguf` turns a target into a local file, downloading a ``gs://`` object once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fitsense_core.artifacts import ArtifactStore, file_sha256
from fitsense_core.errors import FitSenseError
from fitsense_core.student import registry
from fitsense_core.student.registry import ModelVersion

log = logging.getLogger("fitsense.serving")

NO_VERSION_MESSAGE = (
    "no model version serves: run `fitsense pipeline run` or `fitsense model promote <version>`"
)


class ServingError(FitSenseError):
    """A model version cannot be served, or the proxy cannot listen."""


@dataclass(frozen=True)
class ServingTarget:
    """What should be served: a version name and where its GGUF file is."""

    version: str
    gguf_uri: str
    gguf_sha256: str | None = None

    @classmethod
    def of(cls, version: ModelVersion) -> ServingTarget:
        return cls(version.version, version.gguf_uri, version.gguf_sha256 or None)


TargetSource = Callable[[], "ServingTarget | None"]
"""Called (in a worker thread) on every poll: what should serve now, or None."""


def registry_target(database_url: str) -> TargetSource:
    """Follow the registry: whatever version has status ``serving``."""

    def current() -> ServingTarget | None:
        version = registry.serving(database_url)
        return ServingTarget.of(version) if version else None

    return current


def pinned_target(database_url: str, version: str) -> TargetSource:
    """Always one registry version, whatever the registry serves (``--version``)."""

    def pinned() -> ServingTarget:
        return ServingTarget.of(registry.get(database_url, version))

    return pinned


def gguf_target(path: Path, name: str) -> TargetSource:
    """Any GGUF file under a version name of one's choosing, no registry (``--gguf``)."""
    target = ServingTarget(name, str(path.absolute()))
    return lambda: target


def file_safe(version: str) -> str:
    """``version`` as a file name: anything but letters, digits, ``.``, ``_``, ``-`` is ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", version)


def resolve_gguf(target: ServingTarget, cache_dir: Path) -> Path:
    """A local file for ``target``'s GGUF: a local path as it is; a ``gs://`` object
    downloaded once to ``cache_dir/<version>.gguf`` and checked against the registry's
    digest, so a changed or corrupted file is never served under the version's name."""
    uri = target.gguf_uri
    if uri.startswith("gs://"):
        dest = cache_dir / f"{file_safe(target.version)}.gguf"
        if dest.is_file() and target.gguf_sha256 in (None, file_sha256(dest)):
            return dest
        parent, name = uri.rsplit("/", 1)
        data = ArtifactStore(parent).read_bytes(name)
        digest = hashlib.sha256(data).hexdigest()
        if target.gguf_sha256 and digest != target.gguf_sha256:
            raise ServingError(
                f"{uri} has sha256 {digest}, but the registry records {target.gguf_sha256} "
                f"for version {target.version}: the file changed or is corrupted; not serving it"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, dest)
        log.info("downloaded %s to %s (%.1f MB)", uri, dest, len(data) / 1e6)
        return dest
    if "://" in uri and not uri.startswith("file://"):
        raise ServingError(
            f"the GGUF of version {target.version} is at {uri}: only local paths and gs:// "
            "URIs can be served"
        )
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise ServingError(f"the GGUF file of version {target.version} is missing: {path}")
    return path

"""The artifact store: a local directory by default, a GCS bucket when configured.

Layout (SPEC §5): ``datasets/synthetic/<run_id>/``, ``datasets/distillation/<run_id>/``,
``teacher_outputs/<run_id>/``, ``reports/<run_id>/``, ``models/student/<version>/``.
Table sets are written as one Parquet file per table plus a ``manifest.json`` with row
counts, column types and SHA-256 digests, so a reader can verify what it loads.
Both back ends go through ``pyarrow.fs``; ``STORAGE_EMULATOR_HOST`` points GCS at an
emulator.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from fitsense_core.errors import ConfigurationError, DataValidationError
from fitsense_core.synthetic.tables import TableSet

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (model files are hundreds of MB)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def path_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a directory: of each file's relative path and SHA-256, in
    sorted order (the same files with the same contents give the same digest anywhere)."""
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        raise DataValidationError(f"{path} does not exist")
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode())
    return h.hexdigest()


def _filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    if root.startswith("gs://"):
        parts = urlsplit(root)
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            endpoint = urlsplit(emulator if "://" in emulator else f"http://{emulator}")
            fs = pafs.GcsFileSystem(
                anonymous=True, scheme=endpoint.scheme, endpoint_override=endpoint.netloc
            )
        else:
            fs = pafs.GcsFileSystem()
        return fs, f"{parts.netloc}{parts.path}".rstrip("/")
    if "://" in root and not root.startswith("file://"):
        raise ConfigurationError(
            f"artifact root {root!r} is not supported: use a directory or gs://bucket/prefix"
        )
    path = os.path.abspath(root.removeprefix("file://"))
    return pafs.LocalFileSystem(), path


@dataclass(frozen=True)
class ArtifactStore:
    """Reads and writes artifacts under ``root`` (a directory or ``gs://bucket/prefix``)."""

    root: str

    @property
    def _fs(self) -> tuple[pafs.FileSystem, str]:
        return _filesystem(self.root)

    def uri(self, *parts: str) -> str:
        if self.root.startswith("gs://"):
            return "/".join([self.root.rstrip("/"), *parts])
        return os.path.join(_filesystem(self.root)[1], *parts)

    def _path(self, *parts: str) -> tuple[pafs.FileSystem, str]:
        fs, base = self._fs
        return fs, posixpath.join(base, *parts)

    def write_bytes(self, data: bytes, *parts: str) -> str:
        fs, path = self._path(*parts)
        fs.create_dir(posixpath.dirname(path), recursive=True)
        with fs.open_output_stream(path) as out:
            out.write(data)
        return self.uri(*parts)

    def read_bytes(self, *parts: str) -> bytes:
        fs, path = self._path(*parts)
        try:
            with fs.open_input_stream(path) as stream:
                return stream.read()
        except FileNotFoundError as exc:
            raise DataValidationError(f"artifact {self.uri(*parts)} does not exist") from exc

    def exists(self, *parts: str) -> bool:
        fs, path = self._path(*parts)
        return fs.get_file_info(path).type != pafs.FileType.NotFound

    def local_path(self, *parts: str) -> Path | None:
        """The local filesystem path of an artifact, or None for a remote store."""
        fs, path = self._path(*parts)
        return Path(path) if isinstance(fs, pafs.LocalFileSystem) else None

    def upload_dir(self, local: Path, *parts: str) -> str:
        """Copy a local directory into the store (a no-op when it already is there)."""
        fs, path = self._path(*parts)
        if isinstance(fs, pafs.LocalFileSystem) and Path(path).resolve() == local.resolve():
            return self.uri(*parts)
        fs.create_dir(path, recursive=True)
        pafs.copy_files(
            str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs
        )
        return self.uri(*parts)

    def download_dir(self, local: Path, *parts: str) -> Path:
        fs, path = self._path(*parts)
        local.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(
            path, str(local), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem()
        )
        return local

    def write_json(self, value: Any, *parts: str) -> str:
        return self.write_bytes(
            json.dumps(value, indent=2, sort_keys=True, default=str).encode(), *parts
        )

    def read_json(self, *parts: str) -> Any:
        return json.loads(self.read_bytes(*parts))

    def write_tables(self, tableset: TableSet, *prefix: str) -> dict[str, Any]:
        """One Parquet file per table and a manifest; returns the manifest."""
        files = {}
        for name, frame in tableset.tables.items():
            table = pa.Table.from_pandas(frame, preserve_index=False)
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            data = sink.getvalue().to_pybytes()
            self.write_bytes(data, *prefix, f"{name}.parquet")
            files[name] = {
                "file": f"{name}.parquet",
                "rows": table.num_rows,
                "sha256": hashlib.sha256(data).hexdigest(),
                "columns": {f.name: str(f.type) for f in table.schema},
            }
        manifest = {"tables": files, "meta": tableset.meta}
        self.write_json(manifest, *prefix, MANIFEST)
        return manifest

    def read_tables(self, *prefix: str, verify: bool = True) -> TableSet:
        """Read a table set back, checking each file against its manifest digest."""
        manifest = self.read_json(*prefix, MANIFEST)
        tables: dict[str, pd.DataFrame] = {}
        for name, entry in manifest["tables"].items():
            data = self.read_bytes(*prefix, entry["file"])
            if verify and hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise DataValidationError(
                    f"{self.uri(*prefix, entry['file'])} does not match its manifest digest"
                )
            table = pq.read_table(pa.BufferReader(data))
            tables[name] = table.to_pandas(types_mapper=_arrow_strings)
        return TableSet(tables, manifest["meta"])


def _arrow_strings(dtype: pa.DataType) -> Any:
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return pd.ArrowDtype(pa.string())
    if pa.types.is_date32(dtype):
        return pd.ArrowDtype(pa.date32())
    return None

"""GGUF export with llama.cpp's own converter.

The converter (``convert_hf_to_gguf.py`` with its ``conversion`` and ``gguf-py``
packages) ships inside llama-cpp-python's source distribution. It is taken from the
sdist of the installed llama-cpp-python version — downloaded from the package index once
(``make setup`` does it) into ``FITSENSE_TOOLS_DIR`` — so the GGUF matches the server
that loads it.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from fitsense_core.student.training import TrainingError

CONVERTER = "convert_hf_to_gguf.py"
GGUF_MAGIC = b"GGUF"


def converter_dir(tools: Path) -> Path:
    version = importlib.metadata.version("llama-cpp-python")
    return tools / f"llama.cpp-convert-{version}"


def ensure_converter(tools: Path, progress: Callable[[str], None] = lambda _m: None) -> Path:
    """The converter script, fetched from the llama-cpp-python sdist when missing."""
    target = converter_dir(tools)
    script = target / CONVERTER
    if script.exists():
        return script
    version = importlib.metadata.version("llama-cpp-python")
    progress(f"fetching llama.cpp's converter from the llama-cpp-python {version} sdist")
    with tempfile.TemporaryDirectory() as tmp:
        download = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"llama-cpp-python=={version}",
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
        )
        archives = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if download.returncode != 0 or not archives:
            raise TrainingError(
                "cannot fetch the llama-cpp-python sdist for the GGUF "
                f"converter: {download.stderr.strip()[-500:]}"
            )
        prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                name = member.name
                if not name.startswith(prefix):
                    continue
                rel = name[len(prefix) :]
                wanted = rel == CONVERTER or rel.startswith(("conversion/", "gguf-py/"))
                if wanted and member.isfile():
                    member.name = rel
                    tar.extract(member, partial, filter="data")
    if not (partial / CONVERTER).exists():
        raise TrainingError(f"{CONVERTER} is not in the llama-cpp-python {version} sdist")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return script


def convert_to_gguf(
    merged_dir: Path, out_path: Path, converter: Path, outtype: str = "q8_0"
) -> Path:
    """Merged HF weights → GGUF; checks the result is a GGUF file before returning."""
    partial = out_path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            str(converter),
            str(merged_dir),
            "--outfile",
            str(partial),
            "--outtype",
            outtype,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise TrainingError("GGUF conversion failed: " + " | ".join(tail))
    with partial.open("rb") as f:
        magic, version = f.read(4), struct.unpack("<I", f.read(4))[0]
    if magic != GGUF_MAGIC:
        partial.unlink(missing_ok=True)
        raise TrainingError(f"the converter wrote something that is not a GGUF file (v{version})")
    partial.rename(out_path)
    return out_path

"""The llama.cpp server process: its API key stays out of the process list (issue 20,
row 15) and still guards the server."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fitsense_core.student.base_model import base_model_gguf
from fitsense_serving.llama_server import ServerStartError, llama_server, start_llama_server


def _status(url: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_api_key_is_not_on_the_command_line(tmp_path: Path) -> None:
    key = "-" + secrets.token_urlsafe(24)  # a leading dash must not read as an option
    with llama_server(
        base_model_gguf(), model_alias="m", api_key=key, log_path=tmp_path / "llama.log"
    ) as server:
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert b"llama_cpp.server" in cmdline
        assert key.encode() not in cmdline
        assert b"api_key" not in cmdline
        # Still guarded by it.
        assert _status(f"{server.base_url}/models", key) == 200
        assert _status(f"{server.base_url}/models", None) == 401
        assert _status(f"{server.base_url}/models", "wrong") == 401
    assert key not in (tmp_path / "llama.log").read_text(errors="replace")


@pytest.mark.parametrize("key", ["", "two words", "line\nbreak"])
def test_a_key_the_server_cannot_take_is_refused_before_it_starts(tmp_path: Path, key: str) -> None:
    with pytest.raises(ServerStartError, match="API key"):
        start_llama_server(
            base_model_gguf(), model_alias="m", api_key=key, log_path=tmp_path / "llama.log"
        )


def test_a_port_set_for_this_process_does_not_move_the_model_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "1")
    monkeypatch.setenv("API_KEY", "not-the-key")
    key = secrets.token_urlsafe(16)
    with llama_server(
        base_model_gguf(), model_alias="m", api_key=key, log_path=tmp_path / "llama.log"
    ) as server:
        assert _status(f"{server.base_url}/models", key) == 200

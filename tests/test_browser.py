"""What a person sees in a browser: the Dagster UI's FitSense asset graph and an asset's
latest materialization, and the API's Swagger UI at /schema working with no internet.

Headless Chromium (tests/browser.py) renders the pages; screenshots go to
``$FITSENSE_TEST_ARTIFACTS`` (default ``test-artifacts/``). Without Chromium those tests
are skipped, except in CI (``CI=true``), where they fail. The last test checks the
/schema pages' HTML without a browser.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from fitsense_api.settings import ApiSettings
from tests.browser import (
    ASSET_QUERY,
    Browser,
    dagster_webserver,
    find_chromium,
    free_port,
    graphql,
)

RUN_ID = "browser-run"
STAGE_GROUPS = {"synthetic", "teacher", "qa", "distill", "training", "evaluation", "registry"}
USERS = 5


@pytest.fixture
def browser() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        reason = "Chromium not found: install chromium or set CHROMIUM to its path"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with Browser(binary) as b:
        yield b


@pytest.fixture
def artifacts(repo_root: Path) -> Path:
    path = Path(os.environ.get("FITSENSE_TEST_ARTIFACTS") or repo_root / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _materialize_users(
    env: dict[str, str], artifact_root: Path, monkeypatch: pytest.MonkeyPatch
) -> datetime:
    """exercise_catalog and synthetic_users for RUN_ID, in process, on the instance of
    ``env``'s DAGSTER_HOME; returns when synthetic_users was materialized (UTC)."""
    from fitsense_assets.defs.synthetic import assets
    from fitsense_assets.partitions import run_partitions
    from fitsense_assets.resources import ArtifactStoreResource

    for key in ("DAGSTER_HOME", "FITSENSE_DAGSTER_STORAGE_URL"):  # dagster.yaml reads the URL
        monkeypatch.setenv(key, env[key])
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(run_partitions.name, [RUN_ID])
        result = dg.materialize(
            [assets.exercise_catalog, assets.synthetic_users],
            partition_key=RUN_ID,
            instance=instance,
            resources={"artifact_store": ArtifactStoreResource(root=str(artifact_root))},
            run_config={
                "ops": {
                    "synthetic_users": {
                        "config": {
                            "n_users": USERS,
                            "seed": 5,
                            "history_days": 14,
                            "history_end": "2026-10-31",
                        }
                    }
                }
            },
        )
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("synthetic_users"))
        assert event is not None
        return datetime.fromtimestamp(event.timestamp, UTC)


@pytest.mark.slow
def test_dagster_ui_shows_the_asset_graph_and_the_latest_materialization(
    browser: Browser,
    artifacts: Path,
    isolated_env: dict[str, str],
    repo_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    materialized_at = _materialize_users(isolated_env, tmp_path / "artifacts", monkeypatch)
    with dagster_webserver(isolated_env, repo_root) as webserver:
        # The "join the community" dialog would cover the page on a first visit.
        assert graphql(webserver.port, "mutation { setNuxSeen }")["data"]["setNuxSeen"]

        nodes = graphql(webserver.port, ASSET_QUERY)["data"]["assetNodes"]
        groups = sorted({n["groupName"] for n in nodes})
        assert set(groups) >= STAGE_GROUPS, groups

        # The global lineage with every group opened. Keys longer than a node's box are
        # shortened in the middle there ("distillat…_dataset"), so only short ones are looked for.
        expanded = ",".join(f"global@global:{g}" for g in groups)
        graph = browser.open(
            f"{webserver.url}/asset-groups?expanded={expanded}",
            expect=[
                "Global asset lineage",
                *groups,
                "exercise_catalog",
                "synthetic_users",
                "prompts",
                "base_model",
                "student_model",
                "model_version",
            ],
            screenshot=artifacts / "dagster-asset-graph.png",
        )
        assert "Error" not in graph.text, graph.text

        # The catalog lists the keys in full, each with its code location and group.
        catalog = browser.open(
            f"{webserver.url}/assets",
            expect=["distillation_dataset", "qa_bias_slices", "base_model", "model_version"],
        )
        lines = catalog.text.splitlines()
        row = lines[lines.index("distillation_dataset") :][:10]
        assert "fitsense_assets" in row and "distill" in row, row

        asset = browser.open(
            f"{webserver.url}/assets/synthetic_users",
            expect=[
                "synthetic_users",
                # "12 seconds ago" (or minutes, on a slow machine), then the partition written.
                re.compile(rf"Latest materialization\s+\S.* ago\s+{RUN_ID}\s"),
                "Row count",
            ],
            screenshot=artifacts / "dagster-asset.png",
        )
        # Its metadata carry the materialization's time, as the UI writes it ("Dec 2, 1:35 PM").
        hour = materialized_at.hour % 12 or 12
        shown = f"{materialized_at:%b} {materialized_at.day}, {hour}:{materialized_at:%M %p}"
        assert shown in asset.text, (shown, asset.text)
        assert re.search(rf"Row count\s+{USERS}\b", asset.text), asset.text
        assert "Group\nsynthetic" in asset.text, asset.text


@contextmanager
def _api_server(settings: ApiSettings) -> Iterator[str]:
    """The app on uvicorn in a thread (its own event loop), at the URL yielded."""
    import uvicorn

    from fitsense_api.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.slow
def test_api_schema_page_renders_swagger_ui_without_the_internet(
    browser: Browser, artifacts: Path, api_settings: ApiSettings
) -> None:
    with _api_server(api_settings) as url:
        page = browser.open(
            f"{url}/schema",
            expect=[
                "FitSense API",
                "OAS 3.1",
                "Authorize",
                "/auth/signup",
                "/workouts/{workout_id}",
                "/plans/current",
                "/dashboard",
            ],
            screenshot=artifacts / "api-schema.png",
        )
        swagger = browser.open(f"{url}/schema/swagger", expect=["FitSense API", "/auth/login"])
    assert not page.external_requests, page.external_requests
    assert not page.failed_requests, page.failed_requests
    loaded = {r.url.removeprefix(url) for r in page.requests}
    assert {"/schema/assets/swagger-ui-bundle.js", "/schema/assets/swagger-ui.css"} <= loaded
    assert not swagger.external_requests and not swagger.failed_requests, swagger.requests


@pytest.mark.anyio
async def test_api_schema_pages_name_no_other_host(client) -> None:
    """Without a browser: every script, style and icon of the viewers comes from the API."""
    for path in ("/schema", "/schema/swagger"):
        response = await client.get(path)
        assert response.status_code == 200
        assert not re.findall(r"https?://", response.text.split("<body>", 1)[0]), path
        assets = re.findall(r"""(?:src|href)=["']([^"']+)""", response.text)
        assert len(assets) == 4 and all(a.startswith("/schema/assets/") for a in assets), assets
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
    for gone in ("/schema/redoc", "/schema/elements", "/schema/rapidoc"):  # CDN-only viewers
        assert (await client.get(gone)).status_code == 404, gone
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/schema")]

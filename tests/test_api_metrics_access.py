"""/metrics is for the operator's scraper (issue 20, row 10): with
``FITSENSE_METRICS_TOKEN`` set it answers only ``Authorization: Bearer <token>``; unset it is
open in ``local`` and refused in every deployed environment."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from fitsense_api.app import create_app
from fitsense_api.settings import ApiSettings
from fitsense_serving.llama_server import free_port
from tests.api_helpers import assert_problem

pytestmark = pytest.mark.anyio

TOKEN = "a-scraper-token-of-some-length"


def settings(api_db: str, **environ: str) -> ApiSettings:
    return ApiSettings.from_env(
        api_db,
        {
            "FITSENSE_API_LOG_LEVEL": "WARNING",
            # What a deployment must name (no local fallbacks outside local).
            "FITSENSE_DATABASE_URL": api_db,
            "FITSENSE_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
            "FITSENSE_MODEL_API_KEY": "model-key",
            **environ,
        },
    )


async def test_metrics_need_the_token_when_one_is_set(api_db) -> None:
    app = create_app(settings(api_db, FITSENSE_METRICS_TOKEN=TOKEN, FITSENSE_ENV="prod"))
    async with AsyncTestClient(app=app) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = await c.get("/metrics", headers=headers)
            assert_problem(r, 401)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "fitsense_api" not in r.text
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "fitsense_api_rate_limit_hits_total" in r.text


@pytest.mark.parametrize("environment", ["dev", "stage", "prod"])
async def test_metrics_are_refused_in_a_deployment_without_a_token(api_db, environment) -> None:
    app = create_app(settings(api_db, FITSENSE_ENV=environment))
    async with AsyncTestClient(app=app) as c:
        r = await c.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert "FITSENSE_METRICS_TOKEN" in assert_problem(r, 403)["detail"]


async def test_metrics_are_open_locally_without_a_token(api_db) -> None:
    app = create_app(settings(api_db))
    async with AsyncTestClient(app=app) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200 and "fitsense_api_rate_limit_hits_total" in r.text


def test_the_token_is_not_in_the_settings_repr(api_db) -> None:
    assert TOKEN not in repr(settings(api_db, FITSENSE_METRICS_TOKEN=TOKEN))

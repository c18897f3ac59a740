"""``/metrics`` (Prometheus) for the operator's scraper only: with ``FITSENSE_METRICS_TOKEN``
set, a request must carry ``Authorization: Bearer <token>`` (401 otherwise); unset, the
endpoint is open in ``local`` (a developer's machine) and refused (403) in every deployed
environment, whose metrics would otherwise tell anyone the traffic, limits hit and costs."""

from __future__ import annotations

import secrets

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController

from fitsense_api.errors import Forbidden, Unauthorized
from fitsense_api.settings import ApiSettings


def require_metrics_token(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    settings: ApiSettings = connection.app.state.settings
    expected = settings.metrics_token
    if expected is None:
        if settings.environment == "local":
            return
        raise Forbidden(
            f"/metrics is off in {settings.environment}: set FITSENSE_METRICS_TOKEN and "
            "scrape with Authorization: Bearer <token>"
        )
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise Unauthorized("/metrics needs Authorization: Bearer <FITSENSE_METRICS_TOKEN>")


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    guards = [require_metrics_token]

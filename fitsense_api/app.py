"""The Litestar application: ``create_app()`` wires settings, the pool's lifespan,
dependencies, error mapping, strict body decoding, request ids and logs, security headers,
metrics, CORS and OpenAPI.

Run it with ``fitsense api`` (uvicorn). Tests build it with explicit settings.
"""

from __future__ import annotations

import gc
import importlib.metadata

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.plugins.prometheus import PrometheusConfig

from fitsense_api.ai.controllers import AiPlansController, CoachController, JobsController
from fitsense_api.ai.lifespan import ai_lifespan
from fitsense_api.auth.controllers import AuthController, MeController
from fitsense_api.auth.passwords import passwords_lifespan
from fitsense_api.auth.security import provide_caller, provide_user
from fitsense_api.catalog.controllers import CatalogController
from fitsense_api.dashboard.controllers import DashboardController
from fitsense_api.db import pool_lifespan, provide_connection
from fitsense_api.errors import EXCEPTION_HANDLERS
from fitsense_api.feedback.controllers import FeedbackController, TrainingConsentController
from fitsense_api.health import HealthController
from fitsense_api.input_text import check_parameters
from fitsense_api.metrics import MetricsController
from fitsense_api.observability import RequestContextMiddleware, configure_logging
from fitsense_api.openapi import document_links, document_problems, openapi_config
from fitsense_api.plans.controllers import PlansController
from fitsense_api.profile.controllers import ProfileController
from fitsense_api.request_body import StrictJsonRequest
from fitsense_api.retention import retention_lifespan
from fitsense_api.security_headers import SecurityHeadersMiddleware
from fitsense_api.settings import ApiSettings
from fitsense_api.signals.controllers import SignalsController, TargetsController
from fitsense_api.workouts.controllers import WorkoutsController


def _version() -> str:
    try:
        return importlib.metadata.version("fitsense")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def freeze_startup_heap() -> None:
    """Move everything loaded at startup out of the garbage collector's sight.

    The modules the app imports (numpy and pandas through the shared domain code among
    them) leave ~120k objects; a full collection over them took ~90 ms, which showed up
    as the p99 of every endpoint under load. Requests allocate little that is cyclic."""
    gc.collect()
    gc.freeze()


def default_settings() -> ApiSettings:
    """Settings from the environment; the application database as every FitSense command
    resolves it (the API never opens Dagster's storage)."""
    from fitsense_core.database import resolve_app_database
    from fitsense_core.settings import Settings

    return ApiSettings.from_env(resolve_app_database(Settings.from_env()).url)


def create_app(settings: ApiSettings | None = None) -> Litestar:
    settings = settings or default_settings()
    configure_logging(
        settings.log_level,
        environment=settings.environment,
        usd_per_1k_tokens=settings.inference_usd_per_1k_tokens,
    )
    prometheus = PrometheusConfig(
        app_name="fitsense-api",
        prefix="fitsense_api",
        group_path=True,
        exclude=["/metrics"],
        buckets=[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            AuthController,
            MeController,
            TrainingConsentController,
            ProfileController,
            CatalogController,
            WorkoutsController,
            SignalsController,
            TargetsController,
            PlansController,
            AiPlansController,
            JobsController,
            CoachController,
            DashboardController,
            FeedbackController,
        ],
        dependencies={
            "connection": Provide(provide_connection),
            "user": Provide(provide_user),
            "caller": Provide(provide_caller),
        },
        lifespan=[
            pool_lifespan(settings.database_url, settings.pool_min, settings.pool_max),
            passwords_lifespan(settings),
            retention_lifespan(settings),  # after the pool: it prunes through it
            ai_lifespan(settings),  # after the pool: its job workers use it
        ],
        on_startup=[freeze_startup_heap],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=StrictJsonRequest,
        before_request=check_parameters,
        middleware=[prometheus.middleware],
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins))
        if settings.cors_origins
        else None,
        openapi_config=openapi_config(_version()),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    app.state.settings = settings
    document_problems(app.openapi_schema)  # built once and cached by Litestar
    document_links(app.openapi_schema)
    # Around everything, so unknown routes and early errors get a request id and a log line,
    # and every answer the security headers.
    app.asgi_handler = SecurityHeadersMiddleware(RequestContextMiddleware(app.asgi_handler))
    return app

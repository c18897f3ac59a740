"""The AI part of the app's lifespan: the model client, the inference gate and the plan
job workers of this process, started after the pool and stopped before it closes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar

from fitsense_api.ai.jobs import JobRunner
from fitsense_api.ai.limits import InferenceGate
from fitsense_api.ai.service import AiService
from fitsense_api.settings import ApiSettings
from fitsense_core.inference.client import ClientSettings, ModelClient


def ai_lifespan(settings: ApiSettings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = ModelClient(ClientSettings.from_env(settings.model_environ))
        service = AiService(
            client,
            InferenceGate(settings.ai_max_concurrent, settings.ai_max_waiting),
            settings.database_url,
        )
        runner = JobRunner(app.state.pool, service, settings.ai_job_workers)
        app.state.ai = service
        app.state.jobs = runner
        runner.start()
        try:
            yield
        finally:
            await runner.stop()
            await service.aclose()

    return lifespan

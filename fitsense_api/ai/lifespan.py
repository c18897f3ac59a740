"""The AI part of the app's lifespan: the triage model, the model client, the inference
gate and the plan job workers of this process with their own connection pool (one
connection per worker, apart from the requests' pool), started after the requests' pool
and stopped before it closes.

The triage model is loaded first (:func:`fitsense_core.safety.learned.active`): the
promoted model, else the packaged corpus's if it passes the gate; when there is none the
app does not start, unless ``FITSENSE_TRIAGE=rules-only`` asks for the rules alone. The
knowledge base is validated and embedded next (:func:`fitsense_core.coach.retrieval.index`);
an invalid one stops the start as well."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar

from fitsense_api.ai.jobs import JobRunner
from fitsense_api.ai.limits import InferenceGate
from fitsense_api.ai.service import AiService
from fitsense_api.db import create_pool
from fitsense_api.settings import ApiSettings
from fitsense_core.coach import retrieval
from fitsense_core.inference.client import ClientSettings, ModelClient
from fitsense_core.safety import learned

log = logging.getLogger("fitsense.api.ai")


def ai_lifespan(settings: ApiSettings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        model = learned.active()  # raises (the app does not start) without a usable model
        if model is None:
            log.warning("triage runs the rules alone (FITSENSE_TRIAGE=rules-only)")
        else:
            log.info("triage model loaded", extra={"corpus_sha256": model.corpus_sha256})
        # The knowledge base the coach answers from, validated and embedded before the
        # first question (raises, so the app does not start, when it is not valid).
        kb = retrieval.index().kb
        log.info("knowledge base loaded", extra={"records": len(kb.records), "sha256": kb.sha256})
        client = ModelClient(ClientSettings.from_env(settings.model_environ))
        service = AiService(
            client,
            InferenceGate(settings.ai_max_concurrent, settings.ai_max_waiting),
            settings.database_url,
        )
        workers = settings.ai_job_workers
        job_pool = await create_pool(settings.database_url, 1, workers) if workers else None
        runner = JobRunner(job_pool, service, workers)
        app.state.ai = service
        app.state.jobs = runner
        runner.start()
        try:
            yield
        finally:
            await runner.stop()
            await service.aclose()
            if job_pool is not None:
                await job_pool.close()

    return lifespan

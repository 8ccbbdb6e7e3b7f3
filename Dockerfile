# verify-compile: proves torch.compile gives the same answers as eager PyTorch.
#
#   docker build -t verify-compile .                                  # CUDA-capable torch; runs on CPU without a GPU
#   docker build -t verify-compile:cpu --build-arg TORCH_VARIANT=cpu .  # CPU-only torch, a fraction of the size
#   docker run --rm -v "$PWD:/work" -w /work verify-compile run configs/example.yaml --junit report.xml
#   docker run --rm --gpus all -v "$PWD:/work" -w /work verify-compile run configs/example.yaml
#
# Nothing depends on WORKDIR or USER: the tool is installed into site-packages and the console script is on PATH,
# so the image runs under any --workdir and any --user (the GitHub Action runs it as the runner's uid:gid so the
# reports it writes into the workspace are not owned by root).
FROM python:3.11-slim

# torch's version, and where it comes from: `cuda` is PyPI's default Linux wheel (CUDA-capable, falls back to the
# CPU when no GPU is visible); `cpu` is the CPU-only wheel from PyTorch's CPU index. TORCH_INDEX_URL overrides the
# index (a mirror, or another CUDA build such as https://download.pytorch.org/whl/cu126). A pip.conf find-links
# folder is honoured as usual (the offline container test takes torch from one).
ARG TORCH_VERSION=2.13.0
ARG TORCH_VARIANT=cuda
ARG TORCH_INDEX_URL=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# g++: inductor's CPU backend compiles the C++ it generates, which includes Python.h. The official python images
# carry the headers of their own Python; a base whose Python is the distribution's (python3 from apt) gets them from
# python3-dev. Unpinned on purpose: the base image's Debian release fixes the versions, and a pin would break the
# build at the next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && if ! python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_path("include") + "/Python.h"))'; \
       then apt-get install -y --no-install-recommends python3-dev; fi \
    && rm -rf /var/lib/apt/lists/*

# torch first, in its own layer: it is by far the largest and changes least often. numpy is not a torch dependency,
# but without it torch warns "Failed to initialize NumPy" in every run, and most models' code wants it anyway.
RUN case "$TORCH_VARIANT" in \
      cuda) index="$TORCH_INDEX_URL" ;; \
      cpu) index="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" ;; \
      *) echo "TORCH_VARIANT must be cuda or cpu, not '$TORCH_VARIANT'" >&2; exit 1 ;; \
    esac; \
    if [ -n "$index" ]; then export PIP_INDEX_URL="$index"; fi; \
    pip install --no-cache-dir "torch==${TORCH_VERSION}" "numpy<3"

COPY pyproject.toml /tmp/verify-compile/
COPY entrypoint /tmp/verify-compile/entrypoint
RUN pip install --no-cache-dir /tmp/verify-compile/ && rm -rf /tmp/verify-compile

ENTRYPOINT ["verify-compile"]
CMD ["--help"]

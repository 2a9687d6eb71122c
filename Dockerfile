# ccgw-exporter container image. How to run it: docs/deployment.md#container.
#
#   docker build -t ccgw-exporter:0.1.0 .
#   docker run -p 9865:9865 -v /etc/ccgw-exporter:/etc/ccgw-exporter:ro ccgw-exporter:0.1.0
#
# The same image runs the gateway simulator: --entrypoint ccgw-gateway-sim (deploy/compose/).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the package and its dependencies into a venv ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Exactly what the wheel is built from (.dockerignore admits nothing else).
COPY pyproject.toml README.md ./
COPY exporter/ exporter/
COPY grafana/ grafana/
COPY prometheus/ prometheus/
# A venv at the path it will have in the final image, so its scripts' shebangs stay valid.
# pip compiles the bytecode here: the final image may run with a read-only root filesystem.
RUN python -m venv /opt/ccgw-exporter \
 && /opt/ccgw-exporter/bin/pip install . \
 && /opt/ccgw-exporter/bin/ccgw-exporter --version

# --- final: the venv on a clean base, no build tools, not root --------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ccgw-exporter" \
      org.opencontainers.image.description="Prometheus exporter for conferences on Huawei CC-Gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
# A numeric user, so that Kubernetes' runAsNonRoot can check it without an /etc/passwd lookup.
RUN groupadd --system --gid 65532 ccgw \
 && useradd --system --uid 65532 --gid ccgw --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ccgw
COPY --from=build /opt/ccgw-exporter /opt/ccgw-exporter
COPY deploy/container/config.yml /etc/ccgw-exporter/config.yml
COPY deploy/container/healthcheck.py /opt/ccgw-exporter/healthcheck.py
ENV PATH=/opt/ccgw-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CCGW_HEALTHCHECK_URL=http://127.0.0.1:9865/-/healthy
USER 65532:65532
EXPOSE 9865
# Liveness only (/-/healthy): readiness (/-/ready) waits for gateways, which is the
# orchestrator's business, not a reason to restart the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "/opt/ccgw-exporter/healthcheck.py"]
ENTRYPOINT ["ccgw-exporter"]
CMD ["--config.file=/etc/ccgw-exporter/config.yml", "--log.format=json"]

# ccgw-exporter container image. How to run it: docs/deployment.md#container.
#
#   docker build -t ccgw-exporter:0.1.0 .
#   docker run -p 9865:9865 -v /etc/ccgw-exporter:/etc/ccgw-exporter:ro ccgw-exporter:0.1.0
#
# The image carries the exporter alone. The gateway simulator (simulator/, for the compose demo
# in deploy/compose/) is a separate target of this file, never part of the default image:
#
#   docker build --target simulator -t ccgw-gateway-sim:0.1.0 .
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

# --- simulator-build: the exporter's venv plus the simulator (and cryptography) -------------
FROM build AS simulator-build
COPY simulator/ simulator/
RUN /opt/ccgw-exporter/bin/pip install ./simulator \
 && /opt/ccgw-exporter/bin/ccgw-gateway-sim --check-config --http

# --- simulator: the compose demo's stand-in gateway (docker build --target simulator) ---------
FROM ${PYTHON_IMAGE} AS simulator
LABEL org.opencontainers.image.title="ccgw-gateway-sim" \
      org.opencontainers.image.description="Simulated Huawei CC-Gateway for the ccgw-exporter demo and tests" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 65532 ccgw \
 && useradd --system --uid 65532 --gid ccgw --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ccgw
COPY --from=simulator-build /opt/ccgw-exporter /opt/ccgw-exporter
COPY deploy/container/healthcheck.py /opt/ccgw-exporter/healthcheck.py
ENV PATH=/opt/ccgw-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CCGW_HEALTHCHECK_URL=http://127.0.0.1:8043/simulator/
USER 65532:65532
EXPOSE 8043
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "/opt/ccgw-exporter/healthcheck.py"]
ENTRYPOINT ["ccgw-gateway-sim"]
CMD ["--listen=0.0.0.0:8043", "--http"]

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

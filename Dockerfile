# facerec-worker image.
#
# Stage 1 runs scripts/build-worker.sh — the same script CI runs natively (no Docker
# engine there) — which builds the release binary (with zig for glibc 2.34, as the Lambdas
# are: python3-venv lets it install ziglang and cargo-zigbuild from PyPI), fetches and
# verifies the models, and assembles the runtime filesystem under /out/rootfs.
# Stage 2 is distroless (glibc + libgcc + CA certificates, no shell, no package manager),
# runs as the non-root user 65532, and writes nothing outside /tmp (the health file), so
# it runs with a read-only root filesystem plus a small tmpfs on /tmp:
#   ECS: "readonlyRootFilesystem": true, and a volume / tmpfs mounted at /tmp.
#   docker run --read-only --tmpfs /tmp facerec-worker
# ECS ignores HEALTHCHECK here; the task definition carries the same command.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/src/target \
    --mount=type=cache,target=/usr/local/cargo/registry \
    CARGO_TARGET_DIR=/src/target scripts/build-worker.sh /out

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rootfs/ /
USER 65532:65532
ENV FACEREC_MODELS=/opt/facerec/models \
    FACEREC_HEALTH_FILE=/tmp/facerec-worker.alive \
    FACEREC_LOG_FORMAT=json
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/facerec-worker", "health"]
ENTRYPOINT ["/usr/local/bin/facerec-worker"]
CMD ["run"]

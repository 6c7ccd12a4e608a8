# gong-exporter: a static (musl) binary on distroless, running as non-root.
# Build: docker build --build-arg GIT_REVISION=$(git rev-parse --short=12 HEAD) -t gong-exporter .
# This project's CI has no Docker engine; tests/deploy.rs checks this file.

FROM rust:1.95-alpine AS build
# A C toolchain and cmake/perl for aws-lc (the TLS crypto library).
RUN apk add --no-cache musl-dev gcc g++ make cmake perl linux-headers
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
# Alpine's Rust targets musl, which links statically.
RUN cargo build --release --locked --bin gong-exporter \
 && strip target/release/gong-exporter \
 && mkdir -p /state

# The demo stack's `history` service (docker-compose.yml): Prometheus's image,
# which has promtool, prometheus and a shell, plus this binary, to run
# deploy/compose/backfill.sh before the stack's Prometheus first starts.
FROM prom/prometheus:v3.5.0 AS demo-history
COPY --from=build /src/target/release/gong-exporter /bin/gong-exporter
ENTRYPOINT ["/bin/sh"]

# The runtime image (the default target: the last stage).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG GIT_REVISION=unknown
LABEL org.opencontainers.image.title="gong-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Gong.io Stats API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/target/release/gong-exporter /gong-exporter
# Counter state (--storage.path) for a volume; owned by the nonroot user so
# a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /state /var/lib/gong-exporter
# distroless's "nonroot" user.
USER 65532:65532
EXPOSE 9863
ENTRYPOINT ["/gong-exporter"]


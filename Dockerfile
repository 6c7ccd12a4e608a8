# gong-exporter: a static (musl) binary on distroless, running as non-root.
# Build: docker build --build-arg GIT_REVISION=$(git rev-parse --short=12 HEAD) -t gong-exporter .
# This project's CI has no Docker engine; tests/it/deploy.rs checks this file.

FROM rust:1.95-alpine AS build
# A C toolchain and cmake/perl for aws-lc (the TLS crypto library).
RUN apk add --no-cache musl-dev gcc g++ make cmake perl linux-headers
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
# Dependencies first, in a layer of their own: a change to src/ rebuilds
# only this crate. The placeholder sources are removed afterwards.
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs && echo 'fn main() {}' > benches/encode.rs \
 && cargo build --release --locked --bin gong-exporter \
 && rm -rf src benches target/release/.fingerprint/gong-exporter-* target/release/deps/gong_exporter-* target/release/deps/libgong_exporter-*
COPY src ./src
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
# Alpine's Rust targets musl, which links statically.
RUN mkdir -p benches && echo 'fn main() {}' > benches/encode.rs \
 && cargo build --release --locked --bin gong-exporter \
 && strip target/release/gong-exporter \
 && mkdir -p /state

# The static binary alone, for release tarballs:
#   docker buildx build --target binary --output type=local,dest=out .
FROM scratch AS binary
COPY --from=build /src/target/release/gong-exporter /gong-exporter

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
ARG SOURCE_URL=https://github.com/gong-exporter/gong-exporter
LABEL org.opencontainers.image.title="gong-exporter" \
      org.opencontainers.image.source="${SOURCE_URL}" \
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
# distroless has no shell or curl: the binary checks its own /-/healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/gong-exporter", "healthcheck"]
ENTRYPOINT ["/gong-exporter"]


# syntax=docker/dockerfile:1
# The platform's binaries in one image: inventory-service, order-service, user-service,
# notification-service, payment-service, payment-provider, nats-bridge, saga,
# query-service, analytics-service and the `commerce` client. Pick one with the
# container's command, e.g.
#   docker run --rm commerce-platform:local inventory-service
# docker-compose.yml builds and runs it.

# --- build -----------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
# Never reach a database at compile time (sqlx macros use committed .sqlx data, if any).
ENV SQLX_OFFLINE=true
COPY . .
# The cache mounts keep the registry and target/ between builds; target/ lives only in
# the cache, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --workspace --bins \
    && mkdir -p /out \
    && for bin in inventory-service order-service user-service notification-service payment-service payment-provider nats-bridge saga query-service analytics-service commerce; do \
         cp "target/release/$bin" /out/ || exit 1; \
       done

# --- runtime ---------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates for TLS to brokers and databases; curl for the compose health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=builder /out/ /usr/local/bin/
USER app
# The services log to stdout (RUST_LOG filters, LOG_FORMAT=json for JSON lines).
EXPOSE 8080 8081 8082 8083 8084 8085 8086 8087 8088 8089
CMD ["commerce", "--help"]

# Libris in a container, built the README's way: the Rust toolchain and the
# PostgreSQL client library (libpq-dev) to build, libpq5 to run.
#
#   docker build -t libris .
#   docker run --rm -p 127.0.0.1:8000:8000 \
#     -e LIBRIS_ADMIN_USERNAME=admin -e LIBRIS_ADMIN_PASSWORD=change-me libris
#
# Without DATABASE_URL it serves embedded SQLite at /var/lib/libris/libris.db
# (mount a volume there to keep it); docker-compose.yml runs it on PostgreSQL.
# tests/api/check_docker.py (`make check-docker`) checks that the build and
# start commands here stay those of the Makefile's `run` target.

# ---- build ---------------------------------------------------------------
FROM rust:1-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin libris

# ---- run -----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 libris \
    && useradd --system --uid 10001 --gid libris --home-dir /var/lib/libris --shell /usr/sbin/nologin libris \
    && install -d -o libris -g libris -m 0750 /var/lib/libris
COPY --from=build /src/target/release/libris /usr/local/bin/libris
USER libris:libris
WORKDIR /var/lib/libris
ENV LIBRIS_HOST=0.0.0.0 \
    LIBRIS_PORT=8000
EXPOSE 8000
# /readyz answers 200 once the database does. bash's /dev/tcp speaks the
# request, so the image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${LIBRIS_PORT:-8000} && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["libris"]
CMD ["serve"]

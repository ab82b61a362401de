# syntax=docker/dockerfile:1
# Palimpsest in a container: build with the Rust toolchain, run on a slim Debian as a
# non-root user, with the content repository on a volume.
#   docker build -t palimpsest .
#   docker run -p 8080:8080 -v palimpsest-data:/data -e PALIMPSEST_TOKEN=... palimpsest

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo build --release --locked \
    && install -D -m 0755 target/release/palimpsest /out/palimpsest

FROM debian:bookworm-slim
# No TLS, no git CLI, no curl needed: libgit2 is linked in, and `palimpsest healthcheck`
# probes the server itself.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin palimpsest \
    && mkdir -p /data \
    && chown palimpsest:palimpsest /data
COPY --from=build /out/palimpsest /usr/local/bin/palimpsest
COPY content-repo /usr/share/palimpsest/content-repo

# The repository lives on the volume; on first start (no repository yet) it is created
# from the sample blog. Mount your own repository at /data/content.git to serve it instead.
ENV PALIMPSEST_REPO=/data/content.git \
    PALIMPSEST_SEED_FROM=/usr/share/palimpsest/content-repo \
    PALIMPSEST_LISTEN=0.0.0.0:8080 \
    PALIMPSEST_LOG_FORMAT=json
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["palimpsest", "healthcheck"]
ENTRYPOINT ["palimpsest"]
CMD ["serve"]

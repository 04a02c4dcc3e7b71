# The ragway container image: ghcr.io/ragway/ragway:0.1.0
#
# The tag above is the one every manifest in k8s/ references; scripts/check-k8s fails when they differ, or when it
# is not the workspace version in Cargo.toml. Build from the repository root:
#
#   docker build -t ghcr.io/ragway/ragway:0.1.0 .
#
# It needs BuildKit (Docker's default builder since 23.0, `docker buildx build`; Podman/Buildah work too) for the
# cargo cache mounts below; Docker's legacy builder rejects `RUN --mount`.
#
# Stage 1 builds the binary in the `production` profile (release with link-time optimization, Cargo.toml);
# stage 2 is a small Debian runtime with CA certificates (HTTPS to the LLM, Slack, Teams, web sources) and a
# non-root user. The binary carries its prompts, widget and migrations; the prompts/ copy in the image is there
# to read and to copy from (`prompts_dir` overrides them file by file).
#
# Outside Kubernetes:
#   docker run -p 8080:8080 -v ragway-data:/data -e RAGWAY_ADDR=0.0.0.0:8080 ghcr.io/ragway/ragway:0.1.0
# (the binary listens on 127.0.0.1 unless told otherwise; ./ragway.toml and ./data are looked up in /data).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# --locked: exactly Cargo.lock. The cache mounts keep the registry and the target directory between builds
# (BuildKit); the binary is copied out of the cached target directory so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile production --locked -p ragway-gateway \
    && install -D -m 0755 target/production/ragway /out/ragway

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="ragway" \
      org.opencontainers.image.description="Enterprise AI-copilot gateway: grounded, cited answers from a company's documents" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ragway \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ragway \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /out/ragway /usr/local/bin/ragway
COPY prompts/ /usr/share/ragway/prompts/
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
# 8080: the API, the widget and the bots; 9090: /metrics when `[server] metrics_addr = "0.0.0.0:9090"`.
EXPOSE 8080 9090
ENTRYPOINT ["ragway"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# Build a static binary, then ship it alone on a minimal base that has CA
# certificates and a non-root user. `make docker` passes VERSION, which the
# binary reports (`picket version`). The build stage runs on the builder's
# own platform and cross-compiles, so `docker buildx build --platform
# linux/amd64,linux/arm64` needs no emulation. Base images are pinned by
# digest (the tag says what the image is, the digest which one is built on);
# raising one is a reviewed commit.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/picket ./cmd/picket
# The data directory must exist and belong to the non-root user, or a fresh
# volume mounted there is owned by root and the store cannot be created.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG VERSION=dev
LABEL org.opencontainers.image.title="picket" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/picketsec/picket"
COPY --from=build /out/picket /picket
COPY --from=build --chown=65532:65532 /out/data /data
# The data directory holds the bbolt store: mount a volume here.
ENV PICKET_DATA_DIR=/data \
    PICKET_HTTP_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s CMD ["/picket", "healthcheck"]
ENTRYPOINT ["/picket"]
CMD ["run"]

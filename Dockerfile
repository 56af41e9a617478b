# glassbox serve in a container: one static binary (pure Go, no cgo) on distroless/static,
# run as a non-root user, with a read-only root filesystem. docs/deploy.md explains how to
# build and run it; cmd/glassbox/deploy_test.go checks this file and builds its binary as
# the build stage does.
#
#   docker build -t glassbox .
#   docker run --rm -p 8080:8080 --read-only -v "$PWD/models:/models:ro" \
#       -e GLASSBOX_MODEL=/models/model.gguf -e GLASSBOX_API_KEY=secret glassbox
#
# Every flag of glassbox serve is also an environment variable (GLASSBOX_PARALLEL,
# GLASSBOX_CTX, …); arguments after the image name are flags of glassbox serve.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# TARGETOS and TARGETARCH are set by BuildKit (docker buildx --platform …); a plain build
# makes a binary for the builder's own platform.
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/glassbox ./cmd/glassbox
# the model store ($GLASSBOX_HOME) and the mount point of model files, owned by the user the
# server runs as; mount volumes there to keep them (the root filesystem may be read-only)
RUN mkdir -p /out/var/lib/glassbox /out/models && chown 65532:65532 /out/var/lib/glassbox

FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/glassbox /usr/local/bin/glassbox
COPY --from=build --chown=65532:65532 /out/var/lib/glassbox /var/lib/glassbox
COPY --from=build /out/models /models
# distroless' nonroot user, by number so that Kubernetes' runAsNonRoot can check it
USER 65532:65532
ENV GLASSBOX_HOME=/var/lib/glassbox \
    GLASSBOX_ADDR=0.0.0.0:8080
EXPOSE 8080
# No HEALTHCHECK: distroless has no shell and no curl to run one. Probe GET /livez (alive,
# also while loading and draining) and GET /readyz (ready for requests) from the
# orchestrator, as the Kubernetes manifests in deploy/kubernetes do.
ENTRYPOINT ["/usr/local/bin/glassbox", "serve"]

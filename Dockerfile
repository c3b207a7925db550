# syntax=docker/dockerfile:1
#
# secwatch container image (docs/deploy.md):
#   - a static binary (CGO_ENABLED=0, -trimpath), no libc, no shell;
#   - distroless static, which holds only the CA bundle, /etc/passwd with the nonroot user
#     (65532), tzdata and /tmp;
#   - runs as 65532:65532, with the root filesystem read-only: the state directory
#     /var/lib/secwatch, a volume, is the only path secwatch writes;
#   - the rules and configuration are part of the image, so an image is one reviewed,
#     tested set of rules.
# deploy/static_test.go builds the binary with the go build line below and runs it as
# 65532 in an empty root holding only what this image holds.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t secwatch:dev .

ARG GO_VERSION=1.26
# Pin by digest in production: FROM gcr.io/distroless/static-debian12:nonroot@sha256:…
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=devel
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The image never ships rules that fail their own checks or tests.
RUN go run ./cmd/secwatch check rules && go run ./cmd/secwatch test rules
ENV CGO_ENABLED=0
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/secwatch ./cmd/secwatch
RUN mkdir -p /out/etc/secwatch/rules /out/var/lib/secwatch \
 && cp deploy/config/secwatch.yaml deploy/config/secwatch-alb.yaml deploy/config/secwatch-s3.yaml /out/etc/secwatch/ \
 && cp rules/mcp.yaml rules/alb.yaml rules/json.yaml /out/etc/secwatch/rules/ \
 && chmod 0755 /out/etc/secwatch /out/etc/secwatch/rules \
 && chmod 0644 /out/etc/secwatch/*.yaml /out/etc/secwatch/rules/*.yaml \
 && chmod 0700 /out/var/lib/secwatch
# Every shipped configuration must load with the rules it names.
RUN for c in secwatch.yaml secwatch-alb.yaml secwatch-s3.yaml; do \
      SECWATCH_MCP_LOG_GROUP=/check SECWATCH_ALB_LOG_GROUP=/check SECWATCH_METRIC_NAMESPACE=check \
      SECWATCH_ALB_LOG_QUEUE=https://sqs.us-east-1.amazonaws.com/123456789012/check \
      SECWATCH_ALB_LOG_BUCKET=check SECWATCH_ALB_LOG_PREFIX=AWSLogs/123456789012/elasticloadbalancing/us-east-1/ \
      SECWATCH_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:check \
      go run ./cmd/secwatch check --config /out/etc/secwatch/$c || exit 1; \
    done

FROM ${BASE_IMAGE}
COPY --from=build /out/secwatch /usr/local/bin/secwatch
COPY --from=build /out/etc/secwatch /etc/secwatch
# Owned by the runtime user, so a fresh named volume mounted here is writable by it; on
# ECS the EFS access point enforces the same owner.
COPY --from=build --chown=65532:65532 /out/var/lib/secwatch /var/lib/secwatch
USER 65532:65532
VOLUME ["/var/lib/secwatch"]
ENTRYPOINT ["/usr/local/bin/secwatch"]
CMD ["run", "--config", "/etc/secwatch/secwatch.yaml"]

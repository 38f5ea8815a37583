# syntax=docker/dockerfile:1
# accessctl in a container: a static musl binary on distroless, as a non-root
# user. Build: `docker build -t accessctl .`; run (README, Install):
#   docker run --rm -v "$PWD:/work" -e ACME_WIX_API_KEY accessctl plan
#
# The builder is Rust on Alpine, whose native target is musl: the binary is
# static (no libc in the final image), on amd64 and arm64 alike.

FROM rust:1.95-alpine AS build
# ring compiles a little C and assembly; musl-dev has the headers. Not
# pinned (hadolint DL3018): the image's Alpine release fixes its version, and
# a pin would break the build at the next Alpine point release.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin accessctl \
    && cp target/release/accessctl /accessctl \
    && case "$(ldd /accessctl 2>/dev/null)" in *'=>'*) echo "not static" >&2; exit 1;; esac

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /accessctl /usr/local/bin/accessctl
# The config and its ledger directory are mounted here.
WORKDIR /work
# distroless's `nonroot`, by number: a host or `runAsNonRoot` can check it.
USER 65532:65532
ENTRYPOINT ["accessctl"]
CMD ["--help"]

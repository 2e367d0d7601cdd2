# syntax=docker/dockerfile:1
# Production image of the scanner sidecar: CINC Auditor (omnibus install) plus sidescan-agent
# (no Kubernetes client, no generator: crates/agent), PRoot (the target view: the target's root as `/` for files and
# commands, no privileges), the PRoot view-root interposer, and a static busybox whose applets the
# agent appends to PATH inside the view.
#
# NOT BUILT IN THIS REPOSITORY'S CI: the development machines have no Docker engine, no access to
# container registries, and CINC Auditor cannot be installed there (no Ruby gem registry).
# scripts/build-images produces the same layout with umoci (localhost/sidescan-scanner:dev), with
# Debian's Ruby and a cinc-auditor TEST DOUBLE standing in for CINC Auditor:
#   /usr/local/bin/sidescan-agent                     entrypoint, mode 0111 (execute-only)
#   /usr/local/bin/sidescan-view                      what the agent runs in the target view
#   /usr/bin/proot                                    on PATH (the agent's --proot default);
#                                                     dynamically linked: the interposer is
#                                                     preloaded into it
#   /usr/local/lib/sidescan/proot-view-root.so        the agent's --proot-preload default
#   /usr/local/lib/sidescan/hold                      static program audit clones run
#                                                     (`install-hold` copies it)
#   /opt/sidescan/bin/                                busybox + applet links (SIDESCAN_FALLBACK_BIN)
#   /opt/cinc-auditor/bin/cinc-auditor                the agent's --cinc-auditor default (the dev
#                                                     image has the test double there)
# Keep the two in step.
#
# Build: docker build -f images/scanner.Dockerfile --build-arg CINC_AUDITOR_VERSION=6 -t sidescan-scanner .

ARG DEBIAN_RELEASE=bookworm

# The interposer, built against the same C library as the final image's PRoot.
FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim AS interposer
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY images/scanner/proot-view-root.c /src/proot-view-root.c
RUN gcc -O2 -Wall -Werror -shared -fPIC -o /proot-view-root.so /src/proot-view-root.c -ldl

# A static busybox, so its applets run in any target (distroless ones have no libc).
FROM docker.io/library/alpine:3.20 AS tools
RUN apk add --no-cache busybox-static

# `hold`, static: what an audit clone's target container runs instead of its entrypoint.
FROM docker.io/library/alpine:3.20 AS hold
RUN apk add --no-cache gcc musl-dev
COPY images/hold/hold.c /src/hold.c
RUN gcc -static -Os -Wall -Wextra -Werror -o /hold /src/hold.c && strip /hold

# The agent built static (musl): it also runs inside the view (the view probe).
FROM docker.io/library/rust:1.89-alpine AS build
RUN apk add --no-cache musl-dev cmake make perl clang
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sidescan-agent

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
ARG CINC_AUDITOR_VERSION=6
# Debian's PRoot (dynamically linked, so the interposer can be preloaded into it) and CINC
# Auditor's omnibus package (its own embedded Ruby under /opt/cinc-auditor).
RUN apt-get update && apt-get install -y --no-install-recommends proot ca-certificates curl \
    && curl -fsSL https://omnitruck.cinc.sh/install.sh | bash -s -- -P cinc-auditor -v "${CINC_AUDITOR_VERSION}" \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY --from=interposer /proot-view-root.so /usr/local/lib/sidescan/proot-view-root.so
COPY --from=tools /bin/busybox.static /opt/sidescan/bin/busybox
RUN for applet in $(/opt/sidescan/bin/busybox --list); do \
      [ "$applet" = busybox ] || ln -s busybox "/opt/sidescan/bin/$applet"; \
    done
# Execute-only: non-dumpable from its first instruction (see scripts/build-images); the readable
# helper runs in the target view.
COPY --from=build --chmod=0111 /src/target/release/sidescan-agent /usr/local/bin/sidescan-agent
COPY --from=build --chmod=0755 /src/target/release/sidescan-view /usr/local/bin/sidescan-view
COPY --from=hold --chmod=0755 /hold /usr/local/lib/sidescan/hold
ENV SIDESCAN_FALLBACK_BIN=/opt/sidescan/bin \
    SIDESCAN_CINC_AUDITOR=/opt/cinc-auditor/bin/cinc-auditor \
    SIDESCAN_PROOT_PRELOAD=/usr/local/lib/sidescan/proot-view-root.so \
    PATH=/usr/local/bin:/opt/cinc-auditor/bin:/usr/bin:/bin
WORKDIR /tmp
# The agent runs as root by default: it reads other containers' /proc/<pid>/root (SYS_PTRACE where
# the UIDs differ). The generated pod's securityContext decides (same-UID mode runs it non-root).
ENTRYPOINT ["/usr/local/bin/sidescan-agent"]

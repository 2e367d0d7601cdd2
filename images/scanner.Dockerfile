# syntax=docker/dockerfile:1
# Production image of the scanner sidecar: CINC Auditor's image plus the sidescan runner (its
# `agent` subcommand), PRoot (the target view: the target's root as `/` for files and commands,
# no privileges) and a static busybox whose applets the agent appends to PATH inside the view.
#
# NOT BUILT IN THIS REPOSITORY'S CI: the development machines have no Docker engine, no access to
# container registries, and CINC Auditor cannot be installed there (no Ruby gem registry).
# scripts/build-images produces the same layout with umoci (localhost/sidescan-scanner:dev), with
# Debian's Ruby as the stand-in for CINC Auditor's embedded Ruby:
#   /usr/local/bin/sidescan-runner   entrypoint
#   /usr/bin/proot                   on PATH (the agent's --proot default)
#   /opt/sidescan/bin/               busybox + applet links (SIDESCAN_FALLBACK_BIN)
#   /usr/local/lib/sidescan/hold     static program audit clones run (`install-hold` copies it)
#   /opt/cinc-auditor/bin/cinc-auditor  here only (the agent's --cinc-auditor default); the dev
#                                    image has /usr/bin/ruby and its libraries instead
# Keep the two in step.
#
# Build: docker build -f images/scanner.Dockerfile --build-arg CINC_AUDITOR_TAG=6 -t sidescan-scanner .

ARG CINC_AUDITOR_TAG=6

# Static tools from Alpine, so they run whatever libc the CINC image has.
FROM docker.io/library/alpine:3.20 AS tools
RUN apk add --no-cache proot-static busybox-static

# `hold`, static: what an audit clone's target container runs instead of its entrypoint.
FROM docker.io/library/alpine:3.20 AS hold
RUN apk add --no-cache gcc musl-dev
COPY images/hold/hold.c /src/hold.c
RUN gcc -static -Os -Wall -Wextra -Werror -o /hold /src/hold.c && strip /hold

# The runner built static (musl), for the same reason.
FROM docker.io/library/rust:1.89-alpine AS build
RUN apk add --no-cache musl-dev cmake make perl clang
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sidescan-runner

FROM docker.io/cincproject/auditor:${CINC_AUDITOR_TAG}
COPY --from=tools /usr/bin/proot.static /usr/bin/proot
COPY --from=tools /bin/busybox.static /opt/sidescan/bin/busybox
RUN for applet in $(/opt/sidescan/bin/busybox --list); do \
      [ "$applet" = busybox ] || ln -s busybox "/opt/sidescan/bin/$applet"; \
    done
COPY --from=build /src/target/release/sidescan-runner /usr/local/bin/sidescan-runner
COPY --from=hold --chmod=0755 /hold /usr/local/lib/sidescan/hold
ENV SIDESCAN_FALLBACK_BIN=/opt/sidescan/bin \
    SIDESCAN_CINC_AUDITOR=/opt/cinc-auditor/bin/cinc-auditor \
    PATH=/usr/local/bin:/opt/cinc-auditor/bin:/usr/bin:/bin
WORKDIR /tmp
# The agent runs as root by default: it reads other containers' /proc/<pid>/root (SYS_PTRACE where
# the UIDs differ). The generated pod's securityContext decides (same-UID mode runs it non-root).
ENTRYPOINT ["/usr/local/bin/sidescan-runner"]

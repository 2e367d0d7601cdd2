# syntax=docker/dockerfile:1
# Production image of sidescan-runner: the runner alone on a distroless base (glibc, CA bundle,
# user nonroot 65532, no shell, no package manager).
#
# NOT BUILT IN THIS REPOSITORY'S CI: the development machines have no Docker engine and no access to
# container registries. scripts/build-images produces the same layout with umoci from Debian's
# packages (localhost/sidescan-runner:dev): /usr/local/bin/sidescan-runner, exactly the libraries
# `ldd` names plus the loader, /etc/passwd and /etc/group with nonroot (65532), the CA bundle,
# user 65532:65532, entrypoint the runner. Keep the two in step.
#
# Build: docker build -f images/runner.Dockerfile -t sidescan-runner .

FROM docker.io/library/rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sidescan-runner

# distroless/cc: glibc, libgcc_s and the CA bundle, which is all `ldd sidescan-runner` names.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/sidescan-runner /usr/local/bin/sidescan-runner
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/sidescan-runner"]

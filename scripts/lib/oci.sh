# OCI image helpers: build an image from a staged root directory with umoci (no Docker, no
# registry) and import it into a containerd. Source it after common.sh.
# shellcheck shell=bash

# oci_build_tar ROOTFS TAR UMOCI_CONFIG_ARGS...: one-layer OCI image layout of ROOTFS, written as a
# tar archive to TAR, tagged `dev`. The layer is reproducible: sorted names, fixed mtime, files owned
# by 0:0 unless the staged tree says otherwise (numeric owners are kept).
oci_build_tar() {
    local rootfs=$1 out=$2
    shift 2
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/sidescan-oci.XXXXXX")
    tar --sort=name --mtime=@0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
    umoci init --layout "$work/layout"
    umoci new --image "$work/layout:dev"
    umoci raw add-layer --image "$work/layout:dev" "$work/layer.tar"
    umoci config --image "$work/layout:dev" "$@"
    umoci gc --layout "$work/layout"
    tar --sort=name --mtime=@0 -C "$work/layout" -cf "$out.tmp" .
    mv "$out.tmp" "$out"
    rm -rf "$work"
}

# oci_import SOCKET TAR NAME: imports TAR into containerd's k8s.io namespace as NAME:dev
# (NAME like localhost/sidescan-runner), where the kubelet's CRI finds it.
oci_import() {
    local sock=$1 tar=$2 name=$3
    ctr --address "$sock" --namespace k8s.io images import --base-name "$name" "$tar" >/dev/null
}

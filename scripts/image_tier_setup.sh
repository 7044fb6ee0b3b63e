#!/usr/bin/env bash
# Prepares the image test tier (tests/images): podman, its configuration, and the Python base image.
#
# Machines without a container engine or registry access get what they need from Debian's and PyPI's
# registries: podman from apt, and a stand-in for the Dockerfiles' base image built with debootstrap.
# Every step is skipped when its result is already there, so a second run takes a second.
# Where podman cannot be installed (not root, no apt-get) this says so and exits 0: the image tests then
# skip with a reason.
set -euo pipefail

BASE_IMAGE="${SOMA_BASE_IMAGE:-docker.io/library/python:3.11.13-slim-bookworm}"
SUITE="${SOMA_BASE_SUITE:-bookworm}"
PACKAGES=(podman buildah runc iptables uidmap fuse-overlayfs slirp4netns debootstrap)
CONTAINERS_CONF=/etc/containers/containers.conf
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

say() { printf '[image-tier] %s\n' "$*" >&2; }

install_podman() {
    if command -v podman >/dev/null && command -v debootstrap >/dev/null; then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        say "podman is not installed and cannot be installed here (needs root and apt-get);" \
            "the image tests will skip. Install: apt-get install -y ${PACKAGES[*]}"
        exit 0
    fi
    say "installing ${PACKAGES[*]} from apt (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    say "podman $(podman --version | awk '{print $3}') installed"
}

configure_podman() {
    # This VM lacks CAP_SYS_RESOURCE, so podman's default nofile limit (1048576) cannot be set; crun
    # refuses the hybrid cgroup layout, runc works.
    if [[ -f $CONTAINERS_CONF ]] && grep -q '^runtime = "runc"' "$CONTAINERS_CONF" \
        && grep -q '^default_ulimits' "$CONTAINERS_CONF"; then
        return 0
    fi
    if [[ ! -w $(dirname "$CONTAINERS_CONF") ]] && ! mkdir -p "$(dirname "$CONTAINERS_CONF")" 2>/dev/null; then
        say "cannot write $CONTAINERS_CONF; podman may fail to start containers"
        return 0
    fi
    if [[ -f $CONTAINERS_CONF ]]; then
        cp "$CONTAINERS_CONF" "$CONTAINERS_CONF.before-soma"
        say "kept the previous $CONTAINERS_CONF as $CONTAINERS_CONF.before-soma"
    fi
    say "writing $CONTAINERS_CONF (runc, ulimits podman can set here)"
    cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
}

build_base_image() {
    if podman image exists "$BASE_IMAGE"; then
        return 0
    fi
    if timeout 20 podman pull --quiet "$BASE_IMAGE" >/dev/null 2>&1; then
        say "pulled $BASE_IMAGE"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]] || ! command -v debootstrap >/dev/null; then
        say "$BASE_IMAGE cannot be pulled and debootstrap needs root; the image tests will skip"
        exit 0
    fi
    local started log
    started=$(date +%s)
    ROOTFS=$(mktemp -d /var/tmp/soma-base.XXXXXX)
    log="$ROOTFS.log"
    trap 'rm -rf "$ROOTFS" "$ROOTFS.log"' EXIT
    say "building a stand-in for $BASE_IMAGE with debootstrap (no registry here; about 2 minutes)"
    say "  debootstrap --variant=minbase $SUITE"
    debootstrap --variant=minbase "$SUITE" "$ROOTFS" >"$log" 2>&1 || {
        tail -20 "$log" >&2
        exit 1
    }
    # pip in the chroot may go through a TLS-intercepting proxy whose CA only the host's bundle holds.
    if [[ -f $HOST_CA_BUNDLE ]]; then cp "$HOST_CA_BUNDLE" "$ROOTFS/tmp/host-ca.crt"; fi
    say "  installing Python 3.11 in the chroot"
    chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        HOME=/root /bin/bash -euo pipefail -c '
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends ca-certificates netbase tzdata \
            python3.11 python3.11-venv python3-pip >/dev/null
        # The official image ships pip, setuptools and wheel in /usr/local and no EXTERNALLY-MANAGED marker.
        # Debian'"'"'s pip installs into /usr/local/lib/python3.11/dist-packages, which its Python searches.
        rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
        if [ -f /tmp/host-ca.crt ]; then export PIP_CERT=/tmp/host-ca.crt; fi
        python3.11 -m pip install --quiet --no-cache-dir --ignore-installed \
            --root-user-action=ignore pip setuptools wheel
        apt-get purge -y -qq python3-pip >/dev/null
        apt-get autoremove -y -qq >/dev/null
        apt-get clean
        rm -rf /var/lib/apt/lists/* /tmp/host-ca.crt
        ln -sf /usr/bin/python3.11 /usr/local/bin/python
        ln -sf /usr/bin/python3.11 /usr/local/bin/python3
        ln -sf /usr/bin/python3.11 /usr/local/bin/python3.11
        /usr/local/bin/python -m pip --version
    ' >>"$log" 2>&1 || {
        tail -20 "$log" >&2
        exit 1
    }
    say "  importing the root filesystem as $BASE_IMAGE"
    tar -C "$ROOTFS" -c . | podman import --quiet \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$ROOTFS" "$log"
    trap - EXIT
    say "base image ready in $(($(date +%s) - started)) s"
}

install_podman
configure_podman
build_base_image
say "ready: $(podman --version), base $BASE_IMAGE"

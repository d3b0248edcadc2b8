#!/usr/bin/env bash
# build-images.sh builds the Drover image, drover/drover:local (or
# $DROVER_IMAGE), FROM scratch: it builds every binary statically into
# bin/docker/, copies the host's busybox (Debian's busybox-static) beside
# them, and runs docker build on that directory. It pulls nothing.
#
#	docker/build-images.sh      # or: make images
set -euo pipefail
cd "$(dirname "$0")/.."

image=${DROVER_IMAGE:-drover/drover:local}
context=bin/docker
busybox=/bin/busybox

need() {
	echo "build-images: $*" >&2
	exit 1
}
command -v go >/dev/null || need "go is not installed (Go 1.26 builds the binaries)"
command -v docker >/dev/null || need "docker is not installed"
# The image's shell and text tools are this one static binary; a dynamic
# busybox would not run FROM scratch.
if [ ! -x "$busybox" ] || ! "$busybox" --list 2>/dev/null | grep -qx sh; then
	need "$busybox is missing: apt-get install busybox-static"
fi
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
	need "$busybox is not statically linked: apt-get install busybox-static"
fi

echo "build-images: static binaries into $context/"
rm -rf "$context"
mkdir -p "$context"
CGO_ENABLED=0 go build -trimpath -o "$context/" ./cmd/broker ./cmd/master ./cmd/worker ./cmd/drover ./cmd/kvserver
cp "$busybox" "$context/busybox"
cp docker/Dockerfile docker/cluster.conf "$context/"

echo "build-images: docker build -t $image"
docker build -q -t "$image" "$context"

#!/bin/sh
# Builds dist/edgecam_<version>_<arch>.deb for each Debian arch given
# (default: amd64 arm64 armhf). Called by `make deb`; run from anywhere.
#
# Environment: GO (default go), VERSION (default packaging/version.sh),
# OUT (output folder, default dist).
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=${OUT:-dist}
VERSION=${VERSION:-$(sh packaging/version.sh)}
[ $# -gt 0 ] || set -- amd64 arm64 armhf

# Reproducible: every file in the package gets the commit's time.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

stage=dist/stage
rm -rf "$stage"
mkdir -p "$stage" "$OUT"
sh packaging/installed-config.sh config.example.yaml >"$stage/config.yaml"

for arch in "$@"; do
	case $arch in
	amd64) goarch=amd64 goarm= ;;
	arm64) goarch=arm64 goarm= ;;
	# ARMv6 code also runs on ARMv7/v8 CPUs in 32-bit mode, and Raspberry
	# Pi OS calls its ARMv6 (Pi Zero/1) userland armhf too; a GOARM=7
	# binary dies with SIGILL there. edgecam does no floating-point or
	# SIMD-heavy work, so GOARM=7 would buy nothing measurable.
	armhf) goarch=arm goarm=6 ;;
	*)
		echo "build-deb.sh: unknown arch $arch (amd64, arm64, armhf)" >&2
		exit 2
		;;
	esac
	echo "== edgecam $VERSION $arch (GOARCH=$goarch${goarm:+ GOARM=$goarm})"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		"$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
		-o "$stage/edgecam" ./cmd/edgecam
	ARCH=$arch VERSION=$VERSION "$GO" tool -modfile=packaging/tools/go.mod nfpm \
		package --config packaging/nfpm.yaml --packager deb \
		--target "$OUT/edgecam_${VERSION}_${arch}.deb"
done
rm -rf "$stage"

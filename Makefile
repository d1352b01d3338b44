# edgecam build and test entry points. `make test` is what CI runs.
GO ?= go
# Debian-safe version from git (packaging/version.sh); what `edgecam version` prints.
VERSION ?= $(shell sh packaging/version.sh)

.PHONY: all build demo test test-fast lint vet deb deb-check

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/edgecam ./cmd/edgecam

# Run the daemon on the built-in test camera: open http://localhost:8080/
demo:
	$(GO) run ./cmd/edgecam run --demo

# The test tiers beyond the fast one (daemon/e2e): see CONTRIBUTING.md.
TIERS = browser fault soak
# Build tags that each turn one speed bypass off, to measure its gain
# (docs/performance.md); lint vets them all at once, so that every variant
# still builds (the tags are independent of each other).
BYPASSES = edgecam_plainread edgecam_nolowwater edgecam_nogso edgecam_noreuse \
	edgecam_rtph264 edgecam_pionnack edgecam_promclient

vet:
	$(GO) vet -tags '$(TIERS)' ./...

# Formatting, go vet and staticcheck (pinned by the tool directive in go.mod).
lint: vet
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) tool staticcheck -tags '$(TIERS)' ./...
	$(GO) vet -tags '$(BYPASSES)' ./capture/... ./stream/... ./daemon/metrics/

# The fast tier alone: no root, Chromium or ffmpeg needed.
test-fast:
	$(GO) test -count=1 ./...

# The whole suite: lint, then every tier with the race detector.
test: lint
	$(GO) test -race -count=1 -timeout 9m -tags '$(TIERS)' ./...

# dist/edgecam_$(VERSION)_{amd64,arm64,armhf}.deb, built with nfpm (see packaging/README.md).
deb:
	GO="$(GO)" VERSION="$(VERSION)" sh packaging/build-deb.sh amd64 arm64 armhf

# Build the debs, then inspect, install, upgrade, remove and purge them and run
# the ARM binaries under qemu (needs root, dpkg, systemd-analyze, qemu-user-static).
deb-check:
	GO="$(GO)" VERSION="$(VERSION)" bash packaging/ci-checks.sh

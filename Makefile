# edgecam build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: all build demo test vet

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/edgecam ./cmd/edgecam

# Run the daemon on the built-in test camera: open http://localhost:8080/
demo:
	$(GO) run ./cmd/edgecam run --demo

vet:
	$(GO) vet ./...

# The whole suite: vet, then every test with the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 8m ./...

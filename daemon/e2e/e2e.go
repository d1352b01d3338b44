// Package e2e gathers edgecam's end-to-end test tiers, each a package of
// its own behind a build tag so that go test ./... stays fast: browser
// (headless Chromium against the page), fault (cameras failing while others
// stream) and soak (viewer churn over minutes). make test runs every tier.
package e2e

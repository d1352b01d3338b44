//go:build !edgecam_promclient

package metrics

import (
	"io"

	"github.com/edgecam/edgecam/daemon/promtext"
)

// writeRuntime writes the go_* and process_* series with promtext, not the
// Prometheus client library. The edgecam_promclient build tag links the
// library instead, to measure what promtext saves: binary size, and the
// resident memory of its mapped pages (docs/performance.md).
func writeRuntime(w *promtext.Writer, _ io.Writer) {
	promtext.WriteGo(w)
	promtext.WriteProcess(w)
	_ = w.Flush()
}

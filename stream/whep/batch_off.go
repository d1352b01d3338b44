//go:build edgecam_nogso

package whep

import "github.com/pion/transport/v5"

// batchSends is off: see batch_on.go.
const batchSends = false

// muxNet is the network the UDP mux listens with: pion's own.
func muxNet(n transport.Net, _ *batches) transport.Net { return n }

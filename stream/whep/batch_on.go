//go:build !edgecam_nogso

package whep

import "github.com/pion/transport/v5"

// batchSends sends each viewer's packets of an access unit together
// (udpbatch.go). The edgecam_nogso build tag turns it off, leaving pion to
// send every packet with its own system call, to measure the gain:
//
//	go test -run '^$' -bench SessionWrite ./stream/whep                      # batched
//	go test -run '^$' -bench SessionWrite -tags edgecam_nogso ./stream/whep  # pion's sends
//
// It could go if pion batched its writes itself.
const batchSends = true

// muxNet is the network the UDP mux listens with: batching sockets.
func muxNet(n transport.Net, b *batches) transport.Net { return transportNet{Net: n, b: b} }

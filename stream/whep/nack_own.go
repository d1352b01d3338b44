//go:build !edgecam_pionnack

package whep

import "github.com/pion/interceptor"

// nackFactory is edgecam's NACK responder (nack.go), which keeps references
// to the stream's packets where pion's copies every packet it sends. The
// edgecam_pionnack build tag swaps in pion's responder to measure the gain:
//
//	go test -run '^$' -bench SessionWrite -benchmem ./stream/whep
//	go test -run '^$' -bench SessionWrite -benchmem -tags edgecam_pionnack ./stream/whep
//
// It could go if pion's responder stopped copying packets.
func nackFactory() (interceptor.Factory, error) { return nackResponderFactory{}, nil }

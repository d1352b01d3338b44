//go:build !edgecam_rtph264

package capture

// unitDecoder is edgecam's own depacketizer (depacketize.go), which reuses
// its memory where gortsplib's rtph264.Decoder allocates every NALU. The
// edgecam_rtph264 build tag swaps in the library's decoder to measure the
// gain:
//
//	go test -run '^$' -bench ReaderHandle -benchmem ./capture
//	go test -run '^$' -bench ReaderHandle -benchmem -tags edgecam_rtph264 ./capture
//
// It could go if rtph264.Decoder reused its buffers.
type unitDecoder = depacketizer

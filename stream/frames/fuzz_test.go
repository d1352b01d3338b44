package frames

import (
	"bufio"
	"bytes"
	"runtime"
	"testing"
)

// part formats one part of ffmpeg's mpjpeg output.
func part(jpg []byte, length string) []byte {
	var b bytes.Buffer
	b.WriteString("--ffmpeg\r\nContent-type: image/jpeg\r\nContent-length: " + length + "\r\n\r\n")
	b.Write(jpg)
	b.WriteString("\r\n")
	return b.Bytes()
}

// FuzzReadPart feeds arbitrary bytes to the parser of ffmpeg's multipart JPEG
// output. It must never panic, never return a picture larger than its input,
// and allocate memory in proportion to the input, whatever Content-length
// claims.
func FuzzReadPart(f *testing.F) {
	jpg := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0xF0, 0x01, 0x40, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9}
	f.Add(part(jpg, "23"))
	f.Add(append(part(jpg, "23"), part(jpg, "23")...))
	f.Add(part(jpg, "33554431")) // just under the limit, little data behind it
	f.Add(part(jpg, "33554433")) // over the limit
	f.Add(part(jpg, "-1"))       // negative
	f.Add(part(jpg, "0"))        // empty
	f.Add(part(jpg, "2"))        // shorter than the data: the rest is junk before the next part
	f.Add(part(jpg, "99999999999999999999"))
	f.Add([]byte("--ffmpeg\r\nContent-type: image/jpeg\r\n\r\n\xff\xd8\xff\xd9\r\n")) // no length
	f.Add([]byte("\r\n\r\n\r\n"))
	f.Add(bytes.Repeat([]byte("x"), 70<<10)) // a header line longer than the buffer

	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		br := bufio.NewReaderSize(bytes.NewReader(data), 64<<10)
		total := 0
		for parts := 0; ; parts++ {
			if parts > len(data) {
				t.Fatalf("%d parts from %d bytes: the parser does not advance", parts, len(data))
			}
			jpg, err := readPart(br)
			if err != nil {
				break
			}
			if len(jpg) == 0 || len(jpg) > len(data) {
				t.Fatalf("picture of %d bytes from %d bytes of input", len(jpg), len(data))
			}
			total += len(jpg)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of pictures from %d bytes of input", total, len(data))
		}
		runtime.ReadMemStats(&after)
		// The read buffer, the first chunk of a part, then at most twice
		// what arrived; plus slack for the fuzzing machinery.
		limit := uint64(64<<10+firstPartChunk+2*len(data)) + 1<<20
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes, want at most %d", len(data), got, limit)
		}
	})
}

// TestReadPartWithHugeContentLengthAllocatesLittle checks the memory bound
// without the fuzzer: a part that claims 32 MB but carries 100 bytes.
func TestReadPartWithHugeContentLengthAllocatesLittle(t *testing.T) {
	data := part(bytes.Repeat([]byte{1}, 100), "33554431")
	const runs = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		if _, err := readPart(br); err == nil {
			t.Fatal("a truncated part was accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 2*firstPartChunk {
		t.Fatalf("reading a part that claims 32 MB allocated %d bytes, want at most %d", per, 2*firstPartChunk)
	}
}

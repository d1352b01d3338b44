//go:build !linux || edgecam_plainread

package capture

// readConn is a plain read elsewhere, and with the edgecam_plainread build
// tag, which measures what rawread_linux.go saves.
func (c *readAheadConn) readConn(b []byte) (int, error) { return c.Conn.Read(b) }

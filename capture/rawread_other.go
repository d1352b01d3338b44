//go:build !linux

package capture

// readConn is a plain read elsewhere; see rawread_linux.go for why Linux
// reads differently.
func (c *readAheadConn) readConn(b []byte) (int, error) { return c.Conn.Read(b) }

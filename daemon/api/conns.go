package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// A WebSocket's close waits for the client's close frame, reading away
// whatever frame comes first, without a deadline: a client announcing a
// frame of 2^63 bytes and trickling it would keep the connection, and the
// handler's goroutine, long after its viewer is gone. The server's
// connection is kept in each request's context, so that a socket whose
// session ended can be closed for good a little later.

// wsCloseGrace is how long a WebSocket's closing handshake may take once
// its session ended.
const wsCloseGrace = 5 * time.Second

type connKey struct{}

// WithConn is the server's ConnContext: it keeps c for the requests on it.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// closeSoon closes r's connection wsCloseGrace from now, whatever the
// WebSocket library is still waiting for; a session calls it as it ends.
func closeSoon(r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		time.AfterFunc(wsCloseGrace, func() { _ = c.Close() })
	}
}

// messageTimeout is how long a client may take to send a message once it
// began it: a model's detections come in one go.
const messageTimeout = 10 * time.Second

// readMessage reads the next message of conn, waiting as long as ctx lets
// it for one to begin, and at most messageTimeout for the rest: a client
// announcing a huge message and trickling it is cut off (the library
// closes the connection when a read's context ends).
func readMessage(ctx context.Context, conn *websocket.Conn) (websocket.MessageType, []byte, error) {
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	typ, rd, err := conn.Reader(mctx)
	if err != nil {
		return 0, nil, err
	}
	t := time.AfterFunc(messageTimeout, cancel)
	defer t.Stop()
	data, err := io.ReadAll(rd)
	return typ, data, err
}

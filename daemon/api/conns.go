package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/stream/frames"
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

// acceptViewer accepts the WebSocket of a viewer of variant v of stream f.
// Browsers hide the HTTP status of a failed handshake, so a refusal (no
// ffmpeg, too many decoders) is sent over the socket: an error message,
// then close 1011. ok is false when the request has been answered.
func acceptViewer(w http.ResponseWriter, r *http.Request, f *cameras.Feed, v frames.Variant) (*websocket.Conn, *frames.Viewer, bool) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, nil, false // Accept has answered the client
	}
	fv, err := f.JPEG().Subscribe(v)
	if err != nil {
		closeSoon(r)
		wsFail(conn, err)
		conn.CloseNow()
		return nil, nil, false
	}
	return conn, fv, true
}

// endSession ends a viewer's socket whose session, under ctx, ended with
// err. It ends only by an error: one other than the client leaving or a
// write timing out is worth telling the client.
func endSession(ctx context.Context, r *http.Request, conn *websocket.Conn, err error) {
	closeSoon(r)
	if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
		wsFail(conn, err)
		return
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

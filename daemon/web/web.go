// Package web serves edgecam's browser page: a grid of live camera tiles that
// play over WHEP, or as JPEG frames over a WebSocket where WebRTC does not
// work, with a full-size view per camera.
//
// The page is plain HTML, CSS and JavaScript modules embedded in the binary, so
// the daemon needs no files on disk and the browser fetches nothing from
// outside the LAN. Every asset sits at the root of the URL space (/app.js,
// /style.css, ...) so it never collides with /api/, /cameras/ or /healthz.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"time"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy forbids inline script and style and any origin but
// our own; the page is written so that it works under exactly this policy.
// connect-src 'self' also covers the page's ws:/wss: WebSocket to its own
// host and port (CSP Level 3), and blob: in img-src lets JPEG frames show.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
	"connect-src 'self'; style-src 'self'; script-src 'self'"

// contentTypes is fixed here rather than taken from mime.TypeByExtension,
// whose answer depends on the host's mime tables; a wrong type for a module
// script makes the browser refuse to run it.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// Config says what the page is served with.
type Config struct {
	// CameraList, if set, returns the camera list (what GET /api/cameras
	// answers) to serve inside the page for request r, or nil when r may
	// not see it. The page then builds its tiles and sends its first
	// offers as its scripts start, without asking for the list first:
	// one round trip less before the first picture, about 50 ms of a
	// busy browser's time.
	CameraList func(r *http.Request) []byte
}

// handler serves a fixed set of assets by exact path.
type handler struct {
	assets map[string]asset
	Config
	// pageHead and pageTail are the page split where the camera list goes
	// (before </head>).
	pageHead, pageTail []byte
}

// listOpen and listClose enclose the camera list in the page: a data
// block, which the browser never runs, so the page's script-src 'self'
// holds. The list is JSON as encoding/json writes it, with <, > and &
// escaped, so nothing in it can close the block.
const (
	listOpen  = `<script type="application/json" id="camera-list">`
	listClose = "</script>\n"
)

// Handler returns an http.Handler that serves the page at "/" and its static
// assets at their root paths. Responses carry Cache-Control: no-cache, an
// ETag for cheap revalidation (except a page served with its camera list),
// a strict Content-Security-Policy and X-Content-Type-Options: nosniff.
// Any other path is 404 and only GET and HEAD are allowed.
func Handler(c Config) http.Handler {
	assets, err := loadAssets(static, "static")
	if err != nil {
		// The files are compiled into the binary, so this is a build defect,
		// not a runtime condition a caller could handle.
		panic(fmt.Sprintf("web: embedded assets: %v", err))
	}
	page := assets["/"].body
	at := bytes.Index(page, []byte("</head>"))
	if at < 0 {
		panic("web: embedded assets: index.html has no </head>")
	}
	return &handler{assets: assets, Config: c, pageHead: page[:at], pageTail: page[at:]}
}

// loadAssets reads every file directly under dir into memory, keyed by the
// URL path it is served at; index.html is served at "/".
func loadAssets(fsys fs.FS, dir string) (map[string]asset, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	assets := make(map[string]asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil, fmt.Errorf("%s: no content type for extension %q", name, path.Ext(name))
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		a := asset{name: name, body: body, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		urlPath := "/" + name
		if name == "index.html" {
			urlPath = "/"
		}
		assets[urlPath] = a
	}
	if _, ok := assets["/"]; !ok {
		return nil, fmt.Errorf("%s: index.html missing", dir)
	}
	return assets, nil
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")

	// Lookup is by exact path, so "..", "//" and directory paths can never
	// reach anything but the fixed asset set.
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "no-cache")
	if r.URL.Path == "/" && h.CameraList != nil {
		if list := h.CameraList(r); list != nil {
			// A page with the list is never the same twice: no ETag.
			body := slices.Concat(h.pageHead, []byte(listOpen), list, []byte(listClose), h.pageTail)
			http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
			return
		}
	}
	hdr.Set("ETag", a.etag)
	// ServeContent handles HEAD, Range and If-None-Match (304) for us; the
	// zero modtime keeps Last-Modified out, the ETag is the validator.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
)

// get runs one request against a fresh Handler.
func get(t *testing.T, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	Handler(Config{}).ServeHTTP(rec, req)
	return rec
}

func TestPageIsServedAtRootWithStrictHeaders(t *testing.T) {
	rec := get(t, http.MethodGet, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: status %d, want 200", rec.Code)
	}
	h := rec.Header()
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if got := h.Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("Content-Security-Policy = %q, want %q", got, contentSecurityPolicy)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := h.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", got)
	}
	if body := rec.Body.String(); !strings.Contains(body, `<script type="module" src="/app.js"></script>`) {
		t.Errorf("page does not load /app.js:\n%s", body)
	}
}

func TestAssetsHaveTheirContentType(t *testing.T) {
	for _, tc := range []struct{ path, wantPrefix string }{
		{"/app.js", "text/javascript"},
		{"/tile.js", "text/javascript"},
		{"/whep.js", "text/javascript"},
		{"/jpeg.js", "text/javascript"},
		{"/style.css", "text/css"},
		{"/favicon.svg", "image/svg+xml"},
	} {
		rec := get(t, http.MethodGet, tc.path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", tc.path, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.wantPrefix) {
			t.Errorf("GET %s: Content-Type = %q, want %s", tc.path, ct, tc.wantPrefix)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", tc.path)
		}
	}
}

func TestOnlyKnownAssetsAreServed(t *testing.T) {
	for _, target := range []string{
		"/nope",
		"/index.html/",
		"/static/app.js",
		"/static/",
		"/../go.mod",
		"/..%2fgo.mod",
		"/%2e%2e/web.go",
		"//app.js",
		"/app.js/",
		"/api/cameras",
		"/cameras/press-1/whep",
	} {
		rec := get(t, http.MethodGet, target, nil)
		if rec.Code == http.StatusOK {
			t.Errorf("GET %s: status 200, want an error", target)
		}
	}
	if rec := get(t, http.MethodGet, "/nope", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope: status %d, want 404", rec.Code)
	}
}

func TestTraversalThroughServeMuxIsNotServed(t *testing.T) {
	// The daemon mounts Handler on a mux and serves it over a real
	// connection, where the raw path reaches the server uncleaned.
	mux := http.NewServeMux()
	mux.Handle("GET /", Handler(Config{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, raw := range []string{"/../go.mod", "/static/../web.go", "/..%2f..%2fgo.mod"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = raw // keep ".." as sent by a hostile client
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("GET %s: status 200, want an error", raw)
		}
	}
}

func TestWritesAreRejected(t *testing.T) {
	rec := get(t, http.MethodPost, "/", nil)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", rec.Code)
	}
	if rec := get(t, http.MethodHead, "/app.js", nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD /app.js: status %d, want 200", rec.Code)
	}
}

func TestUnchangedAssetRevalidatesWithNotModified(t *testing.T) {
	etag := get(t, http.MethodGet, "/app.js", nil).Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /app.js")
	}
	rec := get(t, http.MethodGet, "/app.js", http.Header{"If-None-Match": {etag}})
	if rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET: status %d, want 304", rec.Code)
	}
}

// The page runs under a CSP without 'unsafe-inline': any inline script,
// event handler attribute or style attribute would silently do nothing.
func TestPageHasNothingInlineTheCSPWouldBlock(t *testing.T) {
	page := get(t, http.MethodGet, "/", nil).Body.String()
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // script element with a body
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),            // onclick= and friends
		regexp.MustCompile(`(?i)\sstyle\s*=`),               // style attribute
		regexp.MustCompile(`<style`),                        // style element
		regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"(?:https?:)?//`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("index.html contains %q", m)
		}
	}
}

// Every asset the page or a module refers to must be one the handler serves.
func TestEveryReferencedAssetIsServed(t *testing.T) {
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(get(t, http.MethodGet, "/", nil).Body.String(), -1)
	imports := regexp.MustCompile(`from '\./([^']+)'`)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || path.Ext(p) != ".js" {
			return err
		}
		src, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
			refs = append(refs, []string{m[0], "/" + m[1]})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) < 3 {
		t.Fatalf("found only %d references; the pattern no longer matches the page", len(refs))
	}
	for _, ref := range refs {
		if strings.HasPrefix(ref[1], "/api/") {
			continue // the camera list the page preloads: the API's, not a file
		}
		if rec := get(t, http.MethodGet, ref[1], nil); rec.Code != http.StatusOK {
			t.Errorf("%s refers to %s, which is status %d", ref[0], ref[1], rec.Code)
		}
	}
}

// The page asks for every module app.js imports, directly or not, at once
// (modulepreload) instead of finding them one level of imports at a time:
// a module added without its link would be fetched late again.
func TestEveryImportedModuleIsPreloaded(t *testing.T) {
	page := get(t, http.MethodGet, "/", nil).Body.String()
	preloaded := map[string]bool{}
	for _, m := range regexp.MustCompile(`<link rel="modulepreload" href="/([^"]+)">`).FindAllStringSubmatch(page, -1) {
		preloaded[m[1]] = true
	}
	imports := regexp.MustCompile(`from '\./([^']+)'`)
	seen := map[string]bool{}
	todo := []string{"app.js"}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		src, err := fs.ReadFile(static, "static/"+name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
			if seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			todo = append(todo, m[1])
			if !preloaded[m[1]] {
				t.Errorf("%s imports %s, which index.html does not modulepreload", name, m[1])
			}
		}
	}
	if len(seen) < 3 {
		t.Fatalf("found only %d imported modules; the pattern no longer matches", len(seen))
	}
}

// A syntax error in a module blanks the whole page, and Go's tests are the
// ones that run in CI, so check the scripts here when node is around.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	matches, err := fs.Glob(static, "static/*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range matches {
		src, err := fs.ReadFile(static, p)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "--input-type=module", "--check")
		cmd.Stdin = strings.NewReader(string(src))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", p, err, out)
		}
	}
}

// The header's pickers and the tiles must agree on the names, since each
// choice is also taken from the URL (?transport=, ?grid=) and localStorage.
func TestHeaderPickersOfferWhatTheTilesKnow(t *testing.T) {
	page := get(t, http.MethodGet, "/", nil).Body.String()
	tile, err := fs.ReadFile(static, "static/tile.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ selectID, constant string }{
		{"transport", "TRANSPORTS"},
		{"grid-mode", "GRID_MODES"},
	} {
		sel := regexp.MustCompile(`(?s)<select id="` + tc.selectID + `"[^>]*>(.*?)</select>`).FindStringSubmatch(page)
		if sel == nil {
			t.Errorf("index.html has no <select id=%q>", tc.selectID)
			continue
		}
		var offered []string
		for _, m := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllStringSubmatch(sel[1], -1) {
			offered = append(offered, m[1])
		}
		m := regexp.MustCompile(`export const ` + tc.constant + ` = \[([^\]]*)\]`).FindSubmatch(tile)
		if m == nil {
			t.Errorf("tile.js no longer exports %s as an array literal", tc.constant)
			continue
		}
		var known []string
		for _, q := range regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(m[1], -1) {
			known = append(known, string(q[1]))
		}
		if strings.Join(offered, ",") != strings.Join(known, ",") {
			t.Errorf("#%s offers %q, tile.js %s has %q", tc.selectID, offered, tc.constant, known)
		}
	}
}

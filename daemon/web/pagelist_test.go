package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The page carries the camera list its Config gives for the request, in
// a data block in its head, and without an ETag (it changes every time);
// without a list it is the plain page, validated by its ETag.
func TestPageCarriesTheCameraListItIsGiven(t *testing.T) {
	list := []byte(`{"cameras":[{"name":"dock"}]}`)
	h := Handler(Config{CameraList: func(r *http.Request) []byte {
		if r.Header.Get("X-Test-Login") == "" {
			return nil
		}
		return list
	}})
	serve := func(login bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if login {
			req.Header.Set("X-Test-Login", "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	with := serve(true)
	body := with.Body.String()
	want := listOpen + string(list) + "</script>"
	at := strings.Index(body, want)
	if at < 0 || at > strings.Index(body, "</head>") {
		t.Fatalf("page without the list in its head:\n%s", body)
	}
	if with.Header().Get("ETag") != "" || with.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("page with a list: ETag %q, Cache-Control %q; want none, no-cache", with.Header().Get("ETag"), with.Header().Get("Cache-Control"))
	}
	if with.Header().Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Error("page with a list lost its Content-Security-Policy")
	}

	without := serve(false)
	if strings.Contains(without.Body.String(), "camera-list") || without.Header().Get("ETag") == "" {
		t.Errorf("page without a list: ETag %q, body:\n%s", without.Header().Get("ETag"), without.Body.String())
	}
	if strings.Replace(body, want+"\n", "", 1) != without.Body.String() {
		t.Error("the page with the list differs from the plain page by more than the list")
	}
}

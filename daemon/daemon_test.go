package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

func TestDaemonStopsCleanly(t *testing.T) {
	base := runtime.NumGoroutine()
	c := daemontest.StartCamera(t, testcamera.Options{})
	cfg := daemontest.Config(daemontest.Camera("press-1", c.URL()))
	cfg.ApplyDefaults()
	d, err := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-d.Ready()
	v, err := whepclient.Dial(context.Background(), "http://"+d.HTTPAddr()+"/cameras/press-1/whep", whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	daemontest.NextUnit(t, v, 10*time.Second)

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop within 5s of cancel")
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	v.Close()
	c.Close()
	daemontest.WaitFor(t, 5*time.Second, "goroutines back to the level before the daemon started", func() bool {
		return runtime.NumGoroutine() <= base+2
	})
}

func TestSystemdNotifications(t *testing.T) {
	conn := daemontest.ListenNotify(t)
	c := daemontest.StartCamera(t, testcamera.Options{})
	daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))

	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "STATUS=") || !strings.Contains(msg, "cameras streaming") {
		t.Fatalf("first notification %q, want READY=1 with a STATUS= summary", msg)
	}
}

func TestViewerKeepsPlayingWhenCameraReconnects(t *testing.T) {
	c := daemontest.StartCamera(t, testcamera.Options{})
	addr := c.Addr()
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	v := d.Dial(t, "press-1")
	before := daemontest.NextUnit(t, v, 10*time.Second)

	c.Close()
	d.WaitState(t, "press-1", "retrying", 10*time.Second)
	// Drain what was sent before the camera went away.
	for drained := false; !drained; {
		select {
		case au := <-v.Units():
			before = au
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}

	daemontest.StartCamera(t, testcamera.Options{Addr: addr})
	d.WaitState(t, "press-1", "streaming", 15*time.Second)
	after := daemontest.NextUnit(t, v, 5*time.Second)
	if !h264.IsRandomAccess(after.NALUs) {
		t.Fatalf("first unit after the reconnect has NALU types %v, want an IDR", daemontest.NALUTypes(after.NALUs))
	}
	if int32(after.TS-before.TS) <= 0 {
		t.Fatalf("timestamp went backwards across the reconnect: %d then %d", before.TS, after.TS)
	}
	for i := 0; i < 10; i++ {
		daemontest.NextUnit(t, v, 2*time.Second)
	}
	if got := d.Camera(t, "press-1").Reconnects; got < 1 {
		t.Fatalf("API says %d reconnects, want at least 1", got)
	}
}

func TestNetworkListenerWithoutUsersIsRefused(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.Listen = ":0"
	cfg.ApplyDefaults()
	if _, err := daemon.New(cfg, daemon.Options{}); err == nil || !strings.Contains(err.Error(), "no users are configured") {
		t.Fatalf("New: %v, want the no-users error", err)
	}
	cfg.Auth.Mode = config.AuthNone
	if _, err := daemon.New(cfg, daemon.Options{}); err != nil {
		t.Fatalf("explicit auth none: %v", err)
	}
}

func TestServesHTTPSWithConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "edgecam-test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.HTTP.TLS = config.TLS{Cert: certPath, Key: keyPath}
	})
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + d.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("https healthz: %d", resp.StatusCode)
	}

	cfg := config.Default()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.TLS = config.TLS{Cert: filepath.Join(dir, "missing.pem"), Key: keyPath}
	cfg.ApplyDefaults()
	dm, err := daemon.New(cfg, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dm.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("Run with a missing certificate: %v, want an error naming it", err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPprofOnlyOnItsOwnLoopbackAddress(t *testing.T) {
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.Debug.PprofListen = "127.0.0.1:0" })
	resp, err := daemontest.Client().Get(d.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("pprof is served on the public port")
	}
	cfg := config.Default()
	cfg.Debug.PprofListen = "0.0.0.0:6060"
	cfg.Auth.Mode = config.AuthNone
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("a non-loopback pprof address was accepted: %v", err)
	}
	_ = json.Valid
}

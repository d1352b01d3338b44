package jpeg

import (
	"context"
	"testing"
	"time"
)

func TestDebugKF(t *testing.T) {
	st := startCamera(t)
	h := startHub(t, st, Settings{KeyframesOnly: true})
	h.debug = func(s string) { t.Logf("%s %s", time.Now().Format("05.000"), s) }
	w, _ := h.Subscribe(Variant{})
	defer w.Close()
	var seq uint64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		f, err := w.Next(ctx, seq)
		if err != nil {
			return
		}
		seq = f.Seq
		t.Logf("%s frame %d", f.Time.Format("05.000"), f.Seq)
	}
}

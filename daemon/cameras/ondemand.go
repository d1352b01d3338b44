package cameras

import (
	"context"
	"time"
)

// pullOnDemand runs the capture only while the stream has readers, and for
// OnDemandLinger after the last one left, until ctx ends. Each of a
// camera's streams is pulled on its own: a grid watching the sub-stream
// does not pull the main one.
func (f *Feed) pullOnDemand(ctx context.Context, pl pulling) {
	f.cam.SetUnwatched(true)
	p := puller{f: f}
	defer p.stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	lingering := false
	for {
		select {
		case <-ctx.Done():
			f.st.Close()
			return
		case <-f.cam.Changed():
			pl.changed()
			continue
		case <-linger.C:
			lingering = false
			if f.st.Readers() == 0 {
				p.stop()
			}
			continue
		case <-f.st.ReadersChanged():
			pl.changed()
		}
		n := f.st.Readers()
		f.cam.SetUnwatched(n == 0)
		switch {
		case n > 0 && !p.running():
			p.start(ctx)
		case n == 0 && p.running() && !lingering:
			linger.Reset(pl.linger)
			lingering = true
		}
	}
}

// puller is the capture of an on-demand camera while it is pulled.
type puller struct {
	f      *Feed
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *puller) running() bool { return p.cancel != nil }

func (p *puller) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		_ = p.f.cam.Run(ctx)
	}(p.done)
	p.f.log.Info("on-demand camera pulled")
}

func (p *puller) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel, p.done = nil, nil
	p.f.log.Info("on-demand camera released")
}

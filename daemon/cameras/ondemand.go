package cameras

import (
	"context"
	"time"
)

// pullOnDemand runs the capture only while the stream has readers, and for
// OnDemandLinger after the last one left, until ctx ends.
func (c *Camera) pullOnDemand(ctx context.Context) {
	c.cam.SetUnwatched(true)
	p := puller{c: c}
	defer p.stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	lingering := false
	for {
		select {
		case <-ctx.Done():
			c.st.Close()
			return
		case <-c.cam.Changed():
			c.changed()
			continue
		case <-linger.C:
			lingering = false
			if c.st.Readers() == 0 {
				p.stop()
			}
			continue
		case <-c.st.ReadersChanged():
			c.changed()
		}
		n := c.st.Readers()
		c.cam.SetUnwatched(n == 0)
		switch {
		case n > 0 && !p.running():
			p.start(ctx)
		case n == 0 && p.running() && !lingering:
			linger.Reset(c.opts.OnDemandLinger)
			lingering = true
		}
	}
}

// puller is the capture of an on-demand camera while it is pulled.
type puller struct {
	c      *Camera
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *puller) running() bool { return p.cancel != nil }

func (p *puller) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		_ = p.c.cam.Run(ctx)
	}(p.done)
	p.c.log.Info("on-demand camera pulled")
}

func (p *puller) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel, p.done = nil, nil
	p.c.log.Info("on-demand camera released")
}

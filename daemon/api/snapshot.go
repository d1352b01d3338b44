package api

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"net/http"
	"strconv"
	"time"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/detections"
	"github.com/edgecam/edgecam/daemon/ratelimit"
	"github.com/edgecam/edgecam/stream/frames"
)

// awaitDetections bounds how long a snapshot with overlay=detections waits
// for the models answering on the camera to answer for its picture.
const awaitDetections = 500 * time.Millisecond

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	c, fd, req := s.jpegCamera(w, r)
	if c == nil {
		return
	}
	overlay := r.URL.Query().Get("overlay")
	if overlay != "" && overlay != "detections" {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("overlay=%s: the only overlay is \"detections\"", truncate(overlay)))
		return
	}
	// A snapshot from a running decoder costs nothing; one that starts a
	// decoder counts as a new session, as a viewer's would.
	if !fd.JPEG().Warm(req.variant) && !s.Sessions.Allow(ratelimit.ClientAddr(r)) {
		w.Header().Set("Retry-After", "30")
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("more than %d new sessions a minute from this address (http.sessions_per_minute)", s.Sessions.Limit()))
		return
	}
	if down, why := cameraDown(fd); down {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, why)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	f, err := fd.JPEG().Snapshot(ctx, req.variant)
	if err != nil {
		s.jpegUnavailable(w, c, fd, err)
		return
	}
	data := f.Data
	if overlay == "detections" && fd.Name() != cameras.Main {
		// Detections name the main stream's frames.
		httpError(w, http.StatusBadRequest, "overlay=detections: detections are drawn on the main stream's pictures only")
		return
	}
	if overlay == "detections" {
		if data, err = burnDetections(ctx, c, f, req.variant.Quality); err != nil {
			s.Log.Warn("snapshot overlay failed", "camera", c.Name(), "error", err)
			httpError(w, http.StatusInternalServerError, "drawing the detections failed: "+err.Error())
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s-%s.jpg"`, c.Name(), f.Time.UTC().Format("20060102-150405")))
	h.Set("X-Content-Type-Options", "nosniff")
	if f.Source {
		// Which frame this is, to match it with detections or the video.
		h.Set("X-Edgecam-PTS", strconv.FormatUint(uint64(f.PTS), 10))
	}
	_, _ = w.Write(data)
}

// burnDetections draws over a snapshot what the camera's models found in
// it, as the page would draw them on that frame, and encodes it again. It
// waits briefly for the models that are answering to answer for this very
// picture. A picture not traced to its frame gets the newest detections.
func burnDetections(ctx context.Context, c *cameras.Camera, f frames.Frame, quality int) ([]byte, error) {
	store := c.Detections()
	var dets []detections.Detection
	if f.Source {
		wctx, cancel := context.WithTimeout(ctx, awaitDetections)
		dets = store.Await(wctx, f.PTS)
		cancel()
	} else {
		dets = newestPerModel(store.Recent(time.Now()))
	}
	src, err := jpeg.Decode(bytes.NewReader(f.Data))
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(src.Bounds())
	draw.Draw(img, img.Bounds(), src, src.Bounds().Min, draw.Src)
	detections.Draw(img, dets)
	if quality <= 0 {
		quality = c.JPEG().Settings().Quality
	}
	var out bytes.Buffer
	out.Grow(len(f.Data) + len(f.Data)/4)
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// newestPerModel keeps each model's last detections of a list in arrival
// order.
func newestPerModel(all []detections.Detection) []detections.Detection {
	seen := map[string]bool{}
	var out []detections.Detection
	for i := len(all) - 1; i >= 0; i-- {
		if !seen[all[i].Model] {
			seen[all[i].Model] = true
			out = append(out, all[i])
		}
	}
	return out
}

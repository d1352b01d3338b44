package discover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/onvif"
)

// Output says how WriteYAML writes the stream addresses.
type Output struct {
	// User goes into every stream URL.
	User string
	// Password goes into the URLs only with InlineCredentials; otherwise
	// no output holds it.
	Password          string
	InlineCredentials bool
}

// WriteYAML writes cams as a YAML document whose cameras list can be
// pasted into edgecam's configuration. Everything else (the device's
// identity, each stream's codec and picture, why a device gives no entry)
// is in comments, so the document stays valid YAML.
func WriteYAML(w io.Writer, cams []Camera, o Output) error {
	b := bufio.NewWriter(w)
	cams = slices.Clone(cams)
	for i, c := range cams {
		if c.Err == nil && c.Main != nil && !printable(c.Main.URI) {
			cams[i].Err = fmt.Errorf("the device's stream address %q is not printable", strings.ToValidUTF8(c.Main.URI, "?"))
		}
	}
	ok := 0
	for _, c := range cams {
		if c.Err == nil {
			ok++
		}
	}
	fmt.Fprintf(b, "# edgecam discover: %d ONVIF device(s), %d camera entr%s.\n", len(cams), ok, map[bool]string{true: "y", false: "ies"}[ok == 1])
	b.WriteString("# Paste the entries under cameras: in the configuration (/etc/edgecam/config.yaml).\n")
	if o.User != "" && !o.InlineCredentials && o.Password != "" {
		b.WriteString("# The URLs hold the user but not the password: write it after the user as\n" +
			"# rtsp://user:PASSWORD@host/… (percent-encode / ? # @ % in it, e.g. ? as %3F),\n" +
			"# or run edgecam discover again with --inline-credentials.\n")
	}
	b.WriteString("cameras:\n")
	used := map[string]bool{}
	for _, c := range cams {
		if c.Err != nil || c.Main == nil {
			continue
		}
		if c.Sub != nil && !printable(c.Sub.URI) {
			c.Sub = nil
		}
		writeCamera(b, c, uniqueName(suggestName(c), used), o)
	}
	for _, c := range cams {
		if c.Err == nil && c.Main != nil {
			continue
		}
		comment(b, "  ", "not added: %s: %s", where(c), reason(c.Err, o.User))
	}
	return b.Flush()
}

func writeCamera(b *bufio.Writer, c Camera, name string, o Output) {
	if id := identity(c.Info); id != "" {
		comment(b, "  ", "%s", id)
	}
	comment(b, "  ", "device %s", where(c))
	fmt.Fprintf(b, "  - name: %s\n", scalar(name))
	comment(b, "    ", "main: %s", describe(c.Main))
	notes(b, c.Main)
	fmt.Fprintf(b, "    url: %s\n", scalar(streamURL(c.Main.URI, o.User, o.Password, o.InlineCredentials)))
	if c.Sub != nil {
		comment(b, "    ", "sub: %s", describe(c.Sub))
		notes(b, c.Sub)
		fmt.Fprintf(b, "    sub_url: %s\n", scalar(streamURL(c.Sub.URI, o.User, o.Password, o.InlineCredentials)))
	}
	if p := c.Main.Probe; p != nil && p.Frames > 0 && p.Transport == capture.TransportTCP {
		comment(b, "    ", "the stream did not come over UDP while probing; over TCP it did")
		fmt.Fprintf(b, "    transport: tcp\n")
	}
}

// printable reports whether a stream address reads back from YAML as it
// is: valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// where names the device by its address and, when it has one, its
// endpoint reference.
func where(c Camera) string {
	switch {
	case c.XAddr == "":
		return c.Endpoint
	case c.Endpoint == "" || c.Endpoint == c.XAddr:
		return c.XAddr
	}
	return c.XAddr + " (" + c.Endpoint + ")"
}

// identity names the device as it describes itself.
func identity(i onvif.DeviceInfo) string {
	s := strings.TrimSpace(i.Manufacturer + " " + i.Model)
	if i.Firmware != "" {
		s += ", firmware " + i.Firmware
	}
	if i.Serial != "" {
		s += ", serial " + i.Serial
	}
	return strings.TrimPrefix(s, ", ")
}

// describe says what a stream is: the probe's findings, or else what the
// device's profile claims.
func describe(st *Stream) string {
	p := st.Profile
	s := fmt.Sprintf("profile %q", p.Name)
	if p.Name == "" {
		s = fmt.Sprintf("profile token %q", p.Token)
	}
	switch r := st.Probe; {
	case r != nil && r.Width > 0:
		s += fmt.Sprintf(", %s %s %dx%d %s fps", r.Codec, r.Profile, r.Width, r.Height, fps(r.FPS))
		if r.KeyframeInterval > 0 {
			s += ", keyframe every " + r.KeyframeInterval.Round(10*time.Millisecond).String()
		}
	case r != nil:
		s += fmt.Sprintf(", %s %dx%d (as the device says; the stream offers %s)", p.Encoding, p.Width, p.Height, videoCodecs(r))
	default:
		s += fmt.Sprintf(", %s %dx%d %d fps (as the device says; not probed", p.Encoding, p.Width, p.Height, p.FPS)
		if st.ProbeErr != nil {
			s += ": " + st.ProbeErr.Error()
		}
		s += ")"
	}
	return s
}

// notes lists what the probe found that will play badly, or not at all.
func notes(b *bufio.Writer, st *Stream) {
	if st.Probe == nil {
		return
	}
	for _, p := range st.Probe.Problems {
		comment(b, "    ", "  note: %s", p)
	}
}

func videoCodecs(r *capture.ProbeResult) string {
	var v []string
	for _, t := range r.Tracks {
		if c, ok := strings.CutPrefix(t, "video "); ok {
			v = append(v, c)
		}
	}
	if len(v) == 0 {
		return "no video"
	}
	return strings.Join(v, ", ")
}

func fps(f float64) string {
	if math.Abs(f-math.Round(f)) < 0.01 {
		return strconv.Itoa(int(math.Round(f)))
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// reason explains err to someone who runs discover, with what to do.
func reason(err error, user string) string {
	if err == nil {
		return "no stream"
	}
	s := err.Error()
	switch {
	case errors.Is(err, onvif.ErrNotAuthorized) && user == "":
		s += "; the device needs credentials: run with --user"
	case errors.Is(err, onvif.ErrNotAuthorized):
		s += "; check --user and the password (the ONVIF account, often the camera's admin)"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		s += "; the device's web service did not answer in time"
	}
	return s
}

// comment writes one comment line. Device-supplied text cannot end it
// early: every control character becomes a space.
func comment(b *bufio.Writer, indent, format string, args ...any) {
	s := strings.Map(func(r rune) rune {
		// What YAML does not allow in a comment, or reads as a line break.
		if unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(fmt.Sprintf(format, args...), "?"))
	fmt.Fprintf(b, "%s# %s\n", indent, s)
}

// scalar writes s as a YAML scalar: plain when YAML reads it back as the
// same string, else double-quoted (a Go-quoted printable string is a valid
// YAML double-quoted scalar). Reading back with the decoder the daemon
// links anyway spares the binary yaml.v3's encoder.
func scalar(s string) string {
	var v struct {
		V any `yaml:"v"`
	}
	if !strings.ContainsAny(s, "#\"'") && yaml.Unmarshal([]byte("v: "+s), &v) == nil && v.V == s {
		return s
	}
	return strconv.Quote(s)
}

// suggestName picks a camera name from what the device says of itself:
// its name scope (which installers set), its manufacturer and model, its
// hardware scope, or its address.
func suggestName(c Camera) string {
	var candidates []string
	for _, prefix := range []string{"onvif://www.onvif.org/name/", ""} {
		if prefix == "" {
			candidates = append(candidates, c.Info.Manufacturer+" "+c.Info.Model)
			prefix = "onvif://www.onvif.org/hardware/"
		}
		for _, s := range c.Scopes {
			if rest, ok := strings.CutPrefix(s, prefix); ok {
				if v, err := url.PathUnescape(rest); err == nil {
					candidates = append(candidates, v)
				}
			}
		}
	}
	if u, err := url.Parse(c.XAddr); err == nil {
		candidates = append(candidates, "camera "+u.Hostname())
	}
	for _, n := range candidates {
		if s := slug(n); s != "" {
			return s
		}
	}
	return "camera"
}

// maxNameLen leaves room for a "-NN" suffix below edgecam's 63 characters.
const maxNameLen = 56

// slug makes s a valid edgecam camera name: lowercase letters, digits and
// single '-', not at either end.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= maxNameLen {
			break
		}
	}
	return strings.Trim(b.String()[:min(b.Len(), maxNameLen)], "-")
}

// uniqueName returns name, or name-2, name-3, … when it is taken.
func uniqueName(name string, used map[string]bool) string {
	n := name
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	used[n] = true
	return n
}

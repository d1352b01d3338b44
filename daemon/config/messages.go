package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 parser error ("yaml: line 3: mapping values
// are not allowed in this context") into a Problem with that line.
func syntaxProblem(err error, data []byte) Problem {
	// A quote left open swallows the lines after it, and yaml.v3 reports
	// wherever it gave up, often lines away from the typo.
	if line, ok := unclosedQuote(data); ok {
		return Problem{Line: line, Msg: "invalid YAML: the quoted value on this line is not closed; add the missing quote"}
	}
	msg := err.Error()
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p := Problem{Line: line, Msg: "invalid YAML: " + m[2]}
		// Tabs are the most common cause, and yaml.v3 does not say so.
		if lines := bytes.Split(data, []byte("\n")); line >= 1 && line <= len(lines) &&
			bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t")) {
			p.Msg += " (YAML must be indented with spaces, not tabs)"
		}
		return p
	}
	return Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

var (
	typeErrLine  = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (.+) not found in type (\S+)$`)
	duplicateKey = regexp.MustCompile(`^mapping key ("(?:[^"\\]|\\.)*") already defined at line (\d+)$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
)

// decodeProblem rewrites one of yaml.v3's decoding messages ("line 7: cannot
// unmarshal !!str `abc` into int") into a Problem naming the key path, in
// words a plant engineer understands. It also returns the path whose
// semantic problems are mere consequences of this one and must be dropped.
func (idx *index) decodeProblem(msg string) (p Problem, suppress string) {
	m := typeErrLine.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Msg: msg}, ""
	}
	line, _ := strconv.Atoi(m[1])
	p = Problem{Line: line, Msg: m[2]}

	if u := unknownField.FindStringSubmatch(m[2]); u != nil {
		if e, ok := idx.key(line, u[1]); ok {
			p.Key = e.path
		}
		p.Msg = "unknown key " + quote(u[1])
		if keys := validKeys(u[2]); keys != "" {
			p.Msg += "; valid keys here are " + keys
		}
		return p, ""
	}
	if d := duplicateKey.FindStringSubmatch(m[2]); d != nil {
		name, _ := strconv.Unquote(d[1])
		p.Msg = "duplicate key (first at line " + d[2] + ")"
		if e, ok := idx.key(line, name); ok {
			p.Key = e.path
			// yaml.v3 skips the whole mapping holding a duplicate key.
			return p, parentPath(e.path)
		}
		return p, ""
	}
	if c := cannotDecode.FindStringSubmatch(m[2]); c != nil {
		tag, value, goType := c[1], c[2], c[3]
		got := "a " + tag + " value"
		if e, ok := idx.value(line, func(n *yaml.Node) bool {
			return (n.Tag == tag || n.ShortTag() == tag) &&
				(value == "" || strings.HasPrefix(n.Value, strings.TrimSuffix(value, "...")))
		}); ok {
			p.Key = e.path
			got = describeNode(e.node)
		}
		p.Msg = "expected " + describeGoType(goType) + ", got " + got
		return p, p.Key
	}
	// Messages from our own UnmarshalYAML methods (Duration) quote the value.
	if e, ok := idx.value(line, func(n *yaml.Node) bool {
		return n.Kind == yaml.ScalarNode && strings.Contains(m[2], quote(n.Value))
	}); ok {
		p.Key = e.path
	} else if e, ok := idx.value(line, func(*yaml.Node) bool { return true }); ok {
		p.Key = e.path
	}
	return p, p.Key
}

// explicitZeros reports keys that are present in the file with a zero value
// where zero means "unset": max_viewers: 0 would otherwise silently become
// the default. A key left empty (null) still means "default".
func (idx *index) explicitZeros(cfg *Config) []Problem {
	type check struct {
		path string
		zero bool
		msg  string
	}
	const useDefault = "; remove the key to use the default"
	checks := []check{
		{"http.listen", cfg.HTTP.Listen == "", fmt.Sprintf("is empty%s %q", useDefault, defaultListen)},
		{"http.sessions_per_minute", cfg.HTTP.SessionsPerMinute == 0, fmt.Sprintf("0 must be at least 1%s %d", useDefault, defaultSessionsPerMinute)},
		{"http.connections_per_address", cfg.HTTP.ConnectionsPerAddress == 0, fmt.Sprintf("0 must be at least 1%s %d", useDefault, defaultConnsPerAddress)},
		{"webrtc.max_viewers", cfg.WebRTC.MaxViewers == 0, "0 must be at least 1" + useDefault},
		{"log.level", cfg.Log.Level == "", fmt.Sprintf("is empty; use debug, info, warn or error, or remove the key for %q", defaultLogLevel)},
		{"jpeg.ffmpeg", cfg.JPEG.FFmpeg == "", `is empty; remove the key to use "ffmpeg" from PATH`},
		{"jpeg.fps", cfg.JPEG.FPS == 0, "0 must be greater than 0" + useDefault},
		{"jpeg.max_width", cfg.JPEG.MaxWidth == 0, fmt.Sprintf("0 must be at least 16%s %d", useDefault, defaultJPEGMaxWidth)},
		{"jpeg.quality", cfg.JPEG.Quality == 0, "0 must be between 1 and 100" + useDefault},
		{"jpeg.idle_stop", cfg.JPEG.IdleStop == 0, "0s must be greater than 0" + useDefault},
	}
	for i, cam := range cfg.Cameras {
		p := fmt.Sprintf("cameras[%d].", i)
		checks = append(checks,
			check{p + "transport", cam.Transport == "", `is empty; use auto, tcp or udp, or remove the key for "auto"`},
			check{p + "codec", cam.Codec == "", `is empty; use auto, h264 or h265, or remove the key for "auto"`},
			check{p + "sub_url", cam.SubURL == "", "is empty; give the sub-stream's rtsp:// URL, or remove the key if the camera has none"},
			check{p + "sub_transport", cam.SubTransport == "", "is empty; use auto, tcp or udp, or remove the key for the camera's transport"},
			check{p + "connect_timeout", cam.ConnectTimeout == 0, "0s must be greater than 0" + useDefault},
			check{p + "read_timeout", cam.ReadTimeout == 0, "0s must be greater than 0" + useDefault},
			check{p + "max_viewers", cam.MaxViewers == 0, fmt.Sprintf("0 must be at least 1%s %d", useDefault, defaultCameraMaxViewers)},
			check{p + "stale_after", cam.StaleAfter == 0, "0s must be greater than 0" + useDefault},
			check{p + "title", cam.Title == "", "is empty; write the title to show, or remove the key to show the name"},
		)
		for _, k := range []struct {
			key  string
			zero bool
		}{{"fps", cam.JPEG.FPS != nil && *cam.JPEG.FPS == 0}, {"max_width", cam.JPEG.MaxWidth != nil && *cam.JPEG.MaxWidth == 0}, {"quality", cam.JPEG.Quality != nil && *cam.JPEG.Quality == 0}} {
			checks = append(checks, check{p + "jpeg." + k.key, k.zero, "0 is not allowed; remove the key to use the jpeg section's value"})
		}
	}
	for i, g := range cfg.Groups {
		checks = append(checks, check{fmt.Sprintf("groups[%d].title", i), g.Title == "", "is empty; write the title to show, or remove the key to show the name"})
	}
	var out []Problem
	for _, c := range checks {
		if n := idx.values[c.path]; c.zero && n != nil && n.ShortTag() != "!!null" {
			out = append(out, Problem{Key: c.path, Msg: c.msg})
		}
	}
	return out
}

// sections are the mappings of the file, by the name yaml.v3 uses for their
// type in messages ("config.Camera").
var sections = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, v := range []any{Config{}, HTTP{}, TLS{}, WebRTC{}, Log{}, JPEG{}, JPEGOverride{}, Auth{}, User{}, Token{}, Debug{}, Camera{}, Group{}} {
		t := reflect.TypeOf(v)
		m[t.String()] = t
	}
	return m
}()

// validKeys lists the YAML keys of the section type named typeName.
func validKeys(typeName string) string {
	t, ok := sections[typeName]
	if !ok {
		return ""
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, ", ")
}

func describeGoType(t string) string {
	switch t {
	case "int", "*int":
		return "a whole number"
	case "float64", "*float64":
		return "a number"
	case "bool", "*bool":
		return "true or false"
	case "string", "*string":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "[]config.Camera":
		return "a list of cameras"
	case "config.Camera":
		return "a camera (a mapping with name, url, ...)"
	case "[]config.Group":
		return "a list of groups"
	case "config.Group":
		return "a group (a mapping with name, title, cameras)"
	}
	if _, ok := sections[t]; ok {
		return "a mapping of keys"
	}
	return t
}

// describeNode names what the user wrote, e.g. `the string "abc"`.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!bool":
		return n.Value
	case "!!int", "!!float":
		return "the number " + n.Value
	}
	return "the string " + quote(n.Value)
}

// unclosedQuote returns the first line whose value opens a quote that the
// line does not close. A configuration has no multi-line quoted values, so
// in a file that does not parse this is the typo.
func unclosedQuote(data []byte) (int, bool) {
	for i, line := range strings.Split(string(data), "\n") {
		v := strings.TrimSpace(line)
		if strings.HasPrefix(v, "#") {
			continue
		}
		v = strings.TrimLeft(strings.TrimPrefix(v, "- "), " ")
		if k, rest, ok := strings.Cut(v, ": "); ok && !strings.ContainsAny(k, "\"'") {
			v = strings.TrimSpace(rest)
		}
		switch {
		case strings.HasPrefix(v, `"`):
			if !closesDouble(v[1:]) {
				return i + 1, true
			}
		case strings.HasPrefix(v, "'"):
			if !strings.Contains(strings.ReplaceAll(v[1:], "''", ""), "'") {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// closesDouble reports whether s holds an unescaped double quote.
func closesDouble(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return true
		}
	}
	return false
}

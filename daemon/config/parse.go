package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture/redact"
)

// Load reads the configuration file at path and parses it with Parse, so
// every message starts with path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates a configuration. name is only used
// in messages ("config.yaml:12: cameras[1].url: ..."). An empty document
// yields the defaults with no cameras. On failure the error is an *Errors
// holding every problem found, in file order.
//
// Decoding is strict: unknown keys, duplicate keys and wrong types are
// errors, because a misspelt key silently falling back to its default is the
// hardest kind of mistake to notice on a camera box.
func Parse(name string, data []byte) (*Config, error) {
	fail := func(ps []Problem) error {
		for i := range ps {
			ps[i].File = name
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
		return &Errors{Problems: ps}
	}

	// First pass: the node tree, for syntax errors and for the positions
	// of keys, which semantic checks need but decoding into structs loses.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Default(), nil
		}
		return nil, fail([]Problem{syntaxProblem(err, data)})
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fail([]Problem{{Line: docLine(&extra), Msg: `a second YAML document ("---") is not allowed; put all settings in one document`}})
	} else if !errors.Is(err, io.EOF) {
		return nil, fail([]Problem{syntaxProblem(err, data)})
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return Default(), nil // e.g. a file holding only "---" or "~"
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail([]Problem{{Line: root.Line, Msg: fmt.Sprintf("the top level must be a mapping with keys http, webrtc, log and cameras, not %s", describeNode(root))}})
	}
	idx := newIndex(root)

	// Second pass: strict decoding over the defaults, so absent keys keep
	// their defaults and an explicit udp_port: 0 stays 0. yaml.v3 keeps
	// going after type errors and returns them all.
	cfg := Default()
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var problems []Problem
	suppressed := map[string]bool{}
	var te *yaml.TypeError
	if err := strict.Decode(cfg); errors.As(err, &te) {
		for _, msg := range te.Errors {
			p, under := idx.decodeProblem(msg)
			problems = append(problems, p)
			if under != "" {
				suppressed[under] = true
			}
		}
	} else if err != nil {
		problems = append(problems, syntaxProblem(err, data))
	}

	// yaml.v3 drops list items that fail to decode (and empty ones, without
	// an error), which would shift cameras[i] in messages away from the
	// i-th entry in the file. Decode the entries again one by one so the
	// indexes match; the strict pass above has already reported unknown keys
	// and type errors, so errors here are ignored.
	cfg.Cameras = nil
	if seq := idx.values["cameras"]; seq != nil && seq.Kind == yaml.SequenceNode {
		cfg.Cameras = make([]Camera, len(seq.Content))
		for i, item := range seq.Content {
			_ = item.Decode(&cfg.Cameras[i])
			cfg.Cameras[i].Line = item.Line
			if item.Kind == yaml.ScalarNode && item.ShortTag() == "!!null" {
				p := fmt.Sprintf("cameras[%d]", i)
				problems = append(problems, Problem{Line: item.Line, Key: p, Msg: "empty camera entry; give at least name and url, or remove the '-'"})
				suppressed[p] = true
			}
		}
	}

	semantic := idx.explicitZeros(cfg)
	cfg.ApplyDefaults()
	var verrs *Errors
	if err := cfg.Validate(); errors.As(err, &verrs) {
		semantic = append(semantic, verrs.Problems...)
	}
	// A value that failed to decode was left at its zero value or default;
	// complaining about that as well would only be noise.
	for _, p := range semantic {
		if !isUnder(p.Key, suppressed) {
			p.Line = idx.lineOf(p.Key)
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, fail(problems)
	}
	return cfg, nil
}

func docLine(doc *yaml.Node) int {
	if len(doc.Content) > 0 {
		return doc.Content[0].Line
	}
	return doc.Line
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 parser error ("yaml: line 3: mapping values
// are not allowed in this context") into a Problem with that line.
func syntaxProblem(err error, data []byte) Problem {
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

// isUnder reports whether key is one of roots or lies below one of them.
func isUnder(key string, roots map[string]bool) bool {
	for k := key; ; k = parentPath(k) {
		if roots[k] {
			return true
		}
		if k == "" {
			return false
		}
	}
}

// parentPath strips the last element: "cameras[2].name" → "cameras[2]" →
// "cameras" → "".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// entry is one node of the document with the key path that leads to it.
type entry struct {
	path  string
	node  *yaml.Node
	isKey bool
}

// index maps between key paths and positions in the document.
type index struct {
	byLine map[int][]entry       // every key and value node, by line
	lines  map[string]int        // path → line of its key (or list item)
	values map[string]*yaml.Node // path → value node
}

func newIndex(root *yaml.Node) *index {
	idx := &index{byLine: map[int][]entry{}, lines: map[string]int{}, values: map[string]*yaml.Node{}}
	idx.walk(root, "")
	return idx
}

func (idx *index) walk(n *yaml.Node, path string) {
	idx.byLine[n.Line] = append(idx.byLine[n.Line], entry{path: path, node: n})
	if _, seen := idx.values[path]; !seen {
		idx.values[path] = n // the first of duplicate keys wins, as in the error
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			// A URL pasted as a key must not leak into the key path.
			p := redact.URL(k.Value)
			if path != "" {
				p = path + "." + p
			}
			idx.byLine[k.Line] = append(idx.byLine[k.Line], entry{path: p, node: k, isKey: true})
			if _, seen := idx.lines[p]; !seen {
				idx.lines[p] = k.Line
			}
			idx.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			idx.lines[p] = item.Line
			idx.walk(item, p)
		}
	}
	// Aliases are not followed: their target is indexed where it is defined.
}

// lineOf returns the line of path's key, or of the nearest enclosing key that
// is in the file, so a missing key points at the entry that lacks it.
func (idx *index) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := idx.lines[p]; ok {
			return l
		}
	}
	return 0
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

// key finds the key named name on line.
func (idx *index) key(line int, name string) (entry, bool) {
	for _, e := range idx.byLine[line] {
		if e.isKey && e.node.Value == name {
			return e, true
		}
	}
	return entry{}, false
}

// value finds the innermost value on line that is held by a key (not a list
// item) and satisfies match.
func (idx *index) value(line int, match func(*yaml.Node) bool) (entry, bool) {
	var found entry
	ok := false
	for _, e := range idx.byLine[line] {
		if !e.isKey && e.path != "" && !strings.HasSuffix(e.path, "]") && match(e.node) {
			found, ok = e, true
		}
	}
	if !ok { // a list item of the wrong type, e.g. a camera that is a string
		for _, e := range idx.byLine[line] {
			if !e.isKey && e.path != "" && match(e.node) {
				return e, true
			}
		}
	}
	return found, ok
}

// explicitZeros reports keys that are present in the file with a zero value
// where zero means "unset": ApplyDefaults would otherwise silently turn
// max_viewers: 0 into 16. A key left empty (null) still means "default".
func (idx *index) explicitZeros(cfg *Config) []Problem {
	type check struct {
		path string
		zero bool
		msg  string
	}
	checks := []check{
		{"http.listen", cfg.HTTP.Listen == "", `is empty; remove the key to use the default ":8080"`},
		{"http.sessions_per_minute", cfg.HTTP.SessionsPerMinute == 0, "0 must be at least 1; remove the key to use the default 300"},
		{"webrtc.max_viewers", cfg.WebRTC.MaxViewers == 0, "0 must be at least 1; remove the key to use the default 64"},
		{"log.level", cfg.Log.Level == "", `is empty; use debug, info, warn or error, or remove the key for "info"`},
		{"jpeg.ffmpeg", cfg.JPEG.FFmpeg == "", `is empty; remove the key to use "ffmpeg" from PATH`},
		{"jpeg.fps", cfg.JPEG.FPS == 0, "0 must be greater than 0; remove the key to use the default 5"},
		{"jpeg.max_width", cfg.JPEG.MaxWidth == 0, "0 must be at least 16; remove the key to use the default 1280"},
		{"jpeg.quality", cfg.JPEG.Quality == 0, "0 must be between 1 and 100; remove the key to use the default 75"},
		{"jpeg.idle_stop", cfg.JPEG.IdleStop == 0, "0s must be greater than 0; remove the key to use the default 5s"},
	}
	for i, cam := range cfg.Cameras {
		p := fmt.Sprintf("cameras[%d].", i)
		checks = append(checks,
			check{p + "transport", cam.Transport == "", `is empty; use auto, tcp or udp, or remove the key for "auto"`},
			check{p + "connect_timeout", cam.ConnectTimeout == 0, "0s must be greater than 0; remove the key to use the default 5s"},
			check{p + "read_timeout", cam.ReadTimeout == 0, "0s must be greater than 0; remove the key to use the default 5s"},
			check{p + "max_viewers", cam.MaxViewers == 0, "0 must be at least 1; remove the key to use the default 16"},
			check{p + "stale_after", cam.StaleAfter == 0, "0s must be greater than 0; remove the key to use the default 2s"},
		)
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
	for _, v := range []any{Config{}, HTTP{}, TLS{}, WebRTC{}, Log{}, JPEG{}, JPEGOverride{}, Auth{}, User{}, Token{}, Debug{}, Camera{}} {
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

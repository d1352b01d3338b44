package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest configuration file read: a real one is a few
// kilobytes, and a runaway one (a generated camera list gone wrong, a log
// pasted in) would take seconds and hundreds of megabytes to parse at
// every check and reload.
const MaxFileSize = 1 << 20

// Load reads the configuration file at path and parses it with Parse, so
// every message starts with path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
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
	root, ps := documentRoot(data)
	if len(ps) > 0 {
		return nil, fail(ps)
	}
	if root == nil {
		return Default(), nil // empty, or only "---" or "~"
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

	problems = append(problems, idx.decodeLists(cfg, suppressed)...)

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

// decodeEntries decodes the entries of the list at key one by one. yaml.v3
// drops list items that fail to decode (and empty ones, without an error),
// which would shift cameras[i] in messages away from the i-th entry in the
// file. The strict pass has already reported unknown keys and type errors,
// so errors here are ignored; an empty entry is a problem (empty says what
// to write instead), and what lies under it is suppressed. It also returns
// each entry's line.
func decodeEntries[T any](idx *index, key, empty string, suppressed map[string]bool) ([]T, []int, []Problem) {
	seq := idx.values[key]
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, nil, nil
	}
	var problems []Problem
	out := make([]T, len(seq.Content))
	lines := make([]int, len(seq.Content))
	for i, item := range seq.Content {
		_ = item.Decode(&out[i])
		lines[i] = item.Line
		if item.Kind == yaml.ScalarNode && item.ShortTag() == "!!null" {
			p := fmt.Sprintf("%s[%d]", key, i)
			problems = append(problems, Problem{Line: item.Line, Key: p, Msg: empty})
			suppressed[p] = true
		}
	}
	return out, lines, problems
}

// decodeLists decodes the camera and group lists with decodeEntries.
func (idx *index) decodeLists(cfg *Config, suppressed map[string]bool) []Problem {
	cams, lines, problems := decodeEntries[Camera](idx, "cameras", "empty camera entry; give at least name and url, or remove the '-'", suppressed)
	for i := range cams {
		cams[i].Line = lines[i]
	}
	groups, _, more := decodeEntries[Group](idx, "groups", "empty group entry; give name and cameras, or remove the '-'", suppressed)
	cfg.Cameras, cfg.Groups = cams, groups
	return append(problems, more...)
}

func docLine(doc *yaml.Node) int {
	if len(doc.Content) > 0 {
		return doc.Content[0].Line
	}
	return doc.Line
}

// duplicateKeys appends to out a problem for every key given twice in any
// mapping under n, whose key path is path.
func duplicateKeys(n *yaml.Node, path string, out []Problem) []Problem {
	switch n.Kind {
	case yaml.MappingNode:
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if line, seen := first[k.Value]; seen {
				out = append(out, Problem{Line: k.Line, Key: p, Msg: fmt.Sprintf("duplicate key (first at line %d)", line)})
			} else {
				first[k.Value] = k.Line
			}
			out = duplicateKeys(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = duplicateKeys(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
	return out
}

// documentRoot is the first pass: the node tree, for syntax errors and for
// the positions of keys, which semantic checks need but decoding into
// structs loses. It returns the top-level mapping, or nil for an empty
// document, or the problems that stop everything else.
func documentRoot(data []byte) (*yaml.Node, []Problem) {
	if len(data) > MaxFileSize {
		return nil, []Problem{{Msg: fmt.Sprintf("the file is larger than %d bytes (1 MiB); an edgecam configuration is a few kilobytes: is this the right file?", MaxFileSize)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, []Problem{syntaxProblem(err, data)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []Problem{{Line: docLine(&extra), Msg: `a second YAML document ("---") is not allowed; put all settings in one document`}}
	} else if !errors.Is(err, io.EOF) {
		return nil, []Problem{syntaxProblem(err, data)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, []Problem{{Line: root.Line, Msg: fmt.Sprintf("the top level must be a mapping with keys http, webrtc, log and cameras, not %s", describeNode(root))}}
	}
	// yaml.v3 reports the duplicate keys of a mapping and then skips the
	// whole mapping, hiding those further in; each is found here, and
	// nothing else is judged from a tree that cannot be decoded as written.
	if dups := duplicateKeys(root, "", nil); len(dups) > 0 {
		return nil, dups
	}
	return root, nil
}

package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture/redact"
)

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

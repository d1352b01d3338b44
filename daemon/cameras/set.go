package cameras

import "github.com/edgecam/edgecam/daemon/config"

// Set is the list of configured cameras. It never changes once made: a
// reload makes a new one, reusing the cameras whose settings stayed the same.
type Set struct {
	list   []*Camera
	byName map[string]*Camera
	titles map[string]string
	groups []config.Group
}

// NewSet makes a Set of cameras in the configuration's order, with the
// page's display titles (by camera name) and groups. Names are unique (the
// configuration is validated). Titles and groups live here rather than in
// each Camera, so a reload that changes only them keeps every camera
// running.
func NewSet(list []*Camera, titles map[string]string, groups []config.Group) *Set {
	s := &Set{list: list, byName: make(map[string]*Camera, len(list)), titles: titles, groups: groups}
	for _, c := range list {
		s.byName[c.Name()] = c
	}
	return s
}

// List returns the cameras in the configuration's order. The caller must
// not modify it.
func (s *Set) List() []*Camera { return s.list }

// Get returns the camera with that name.
func (s *Set) Get(name string) (*Camera, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// Title is the camera's display title; "" when it has none.
func (s *Set) Title(name string) string { return s.titles[name] }

// Groups returns the configured groups of cameras. The caller must not
// modify them.
func (s *Set) Groups() []config.Group { return s.groups }

// Snapshots reads every camera's Snapshot.
func (s *Set) Snapshots() []Snapshot {
	out := make([]Snapshot, len(s.list))
	for i, c := range s.list {
		out[i] = c.Snapshot()
	}
	return out
}

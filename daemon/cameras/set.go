package cameras

// Set is the list of configured cameras. It never changes once made: a
// reload makes a new one, reusing the cameras whose settings stayed the same.
type Set struct {
	list   []*Camera
	byName map[string]*Camera
}

// NewSet makes a Set of cameras in the configuration's order. Names are
// unique (the configuration is validated).
func NewSet(list []*Camera) *Set {
	s := &Set{list: list, byName: make(map[string]*Camera, len(list))}
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

// Snapshots reads every camera's Snapshot.
func (s *Set) Snapshots() []Snapshot {
	out := make([]Snapshot, len(s.list))
	for i, c := range s.list {
		out[i] = c.Snapshot()
	}
	return out
}

package config

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Group is a named set of cameras that the page can show on their own,
// such as the cameras of one production line or one building.
type Group struct {
	// Name identifies the group in the page's address (?group=line-1), so
	// it follows the rules of camera names.
	Name string `yaml:"name"`
	// Title is what the page's group picker shows; empty means Name.
	Title string `yaml:"title"`
	// Cameras are the names of the group's cameras, in the order the page
	// shows them. A camera may be in several groups.
	Cameras []string `yaml:"cameras"`
}

// maxTitle bounds a display title: a title is a label on a tile, and a
// longer one would only be cut off.
const maxTitle = 80

// checkTitle reports a display title that cannot be shown as one line.
func checkTitle(ps *problems, key, title string) {
	if n := utf8.RuneCountInString(title); n > maxTitle {
		ps.add(key, "%s is %d characters long; at most %d are allowed", quote(title), n, maxTitle)
		return
	}
	for _, r := range title {
		if unicode.IsControl(r) || r == utf8.RuneError {
			ps.add(key, "%s must be one line of text, without control characters", quote(title))
			return
		}
	}
}

// validateGroups checks the groups: names as for cameras, unique; titles;
// and cameras that are configured, each once per group.
func (c *Config) validateGroups(ps *problems) {
	configured := make(map[string]bool, len(c.Cameras))
	for _, cam := range c.Cameras {
		configured[cam.Name] = true
	}
	first := map[string]int{}
	for i, g := range c.Groups {
		p := fmt.Sprintf("groups[%d]", i)
		switch msg := checkName(g.Name); {
		case g.Name == "":
			ps.add(p+".name", "missing; every group needs a unique name such as \"line-1\", used in the page's address")
		case msg != "":
			ps.add(p+".name", "%s", msg)
		default:
			if j, dup := first[g.Name]; dup {
				ps.add(p+".name", "duplicate %s (first at groups[%d])", quote(g.Name), j)
			} else {
				first[g.Name] = i
			}
		}
		checkTitle(ps, p+".title", g.Title)
		if len(g.Cameras) == 0 {
			ps.add(p+".cameras", "missing; list the names of the group's cameras")
		}
		listed := map[string]bool{}
		for j, name := range g.Cameras {
			k := fmt.Sprintf("%s.cameras[%d]", p, j)
			switch {
			case !configured[name]:
				ps.add(k, "no camera is named %s; use a name from cameras", quote(name))
			case listed[name]:
				ps.add(k, "%s is listed twice in this group", quote(name))
			}
			listed[name] = true
		}
	}
}

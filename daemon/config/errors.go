package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration, located as precisely as
// possible so the user can go straight to it.
type Problem struct {
	File string // file name as given to Parse or Load; empty for configs built in code
	Line int    // 1-based line in File; 0 when unknown
	Key  string // key path such as "cameras[2].url"; empty for problems with the file as a whole
	Msg  string // what is wrong, never containing a password
}

// String formats p as "file:line: key: message", leaving out parts that are
// unknown, which is the form editors and CI logs recognise as a location.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		b.WriteString(p.File + ":" + strconv.Itoa(p.Line) + ": ")
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every problem found in a configuration. Parse, Load and Validate
// return it (as error) so callers can print all problems at once or inspect
// them with errors.As.
type Errors struct {
	Problems []Problem
}

// Error returns the problems one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that reads from YAML strings such as "5s" or
// "1m30s". A separate type is needed because yaml.v3 would otherwise read a
// bare integer as nanoseconds and reject "5s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration, e.g. "5s".
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a duration string. It rejects unparsable and negative
// values; its errors are yaml.TypeErrors so that decoding continues and every
// problem in the file is reported at once.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "expected a duration such as \"5s\", got %s", describeNode(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return typeErrorf(n, "%s is not a duration; write a number with a unit, e.g. \"5s\" or \"1m30s\"", quote(n.Value))
	}
	if v < 0 {
		return typeErrorf(n, "%s is negative; durations must be greater than 0", quote(n.Value))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d back as a string such as "5s", so a dumped config
// reads the same way it is written.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func typeErrorf(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a Go duration string such as
// "2s", "15m" or "336h". A bare number is refused because its unit would be
// a guess.
type Duration struct {
	time.Duration
}

// Dur returns d as a Duration.
func Dur(d time.Duration) Duration { return Duration{Duration: d} }

// UnmarshalYAML parses a Go duration string. A malformed value is reported
// with its line as a *yaml.TypeError, so decoding goes on and every such
// problem in a file is listed together.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: want a duration such as \"20s\" or \"15m\", not a list or a map", n.Line)}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: invalid duration %q: want a number with a unit such as \"20s\", \"15m\" or \"336h\"", n.Line, n.Value)}}
	}
	d.Duration = v
	return nil
}

// MarshalYAML encodes the duration as its Go string form ("20s").
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText encodes the duration as its Go string form, so JSON and slog
// show "20s" rather than nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	d.Duration = v
	return nil
}

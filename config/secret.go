package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"go.yaml.in/yaml/v3"
)

// Placeholders a Secret prints as. They carry whether the secret is set but
// nothing of its value.
const (
	redactedText = "[redacted]"
	notSetText   = "[not set]"
)

// Secret is a credential such as a Slack token. Every way of printing it
// (fmt verbs, YAML, JSON, text marshalling, slog) shows "[redacted]", or
// "[not set]" when it is empty, so a secret cannot be printed or logged by
// accident. Reveal returns the value for the one place that sends it.
type Secret string

// Reveal returns the secret's value. Call it only where the value is handed
// to the client that needs it, never to build a message or a log line.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "[not set]" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return notSetText
	}
	return redactedText
}

// GoString returns the same as String, so %#v does not print the value.
func (s Secret) GoString() string { return s.String() }

// Format writes the same as String for every verb, so no verb (not even a
// wrong one such as %d, which would otherwise print the raw value in its
// error text) can show the secret.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue makes slog log the same as String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML encodes the same as String.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON encodes the same as String, as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText encodes the same as String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML refuses a literal secret, because a secret written in a
// configuration file ends up in version control and backups. Empty values and
// the placeholders Secret prints as are accepted and leave the secret empty,
// so that the output of Config.Redacted reads back. Load reports literal
// secrets with the name of the variable to use instead; this method guards
// anyone who decodes a Config directly.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if placeholderSecret(n) {
		*s = ""
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf(
		"line %d: a secret may not be written in the config file; give it in an environment variable or a file", n.Line)}}
}

// placeholderSecret reports whether a YAML value given for a secret carries
// nothing: absent, null, empty, or one of the placeholders Secret prints as.
func placeholderSecret(n *yaml.Node) bool {
	if n.Kind == 0 {
		return true
	}
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.Value {
	case "", redactedText, notSetText:
		return true
	}
	return n.Tag == "!!null"
}

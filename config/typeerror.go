package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The messages of yaml.v3's type errors, which name Go types
// ("cannot unmarshal !!str `lots` into int", "field channel not found in
// type config.fileSlack").
var (
	unmarshalError = regexp.MustCompile("^line ([0-9]+): cannot unmarshal (!![a-z]+)(?: `(.*)`)? into (.+)$")
	unknownField   = regexp.MustCompile(`^line ([0-9]+): field (.+) not found in type .+$`)
	lineNumber     = regexp.MustCompile(`^line ([0-9]+): (.*)$`)
)

// keyedTypeErrors rewrites yaml.v3's type errors to name the key at fault
// and what it takes in words, never a Go type: "line 2: ingest.workers:
// want a whole number, got text `lots`"; "line 12: slack.channel: unknown
// key". lines maps each key to its line, as recordLines fills it.
func keyedTypeErrors(errs []string, lines map[string]int) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, keyedTypeError(e, lines))
	}
	return out
}

func keyedTypeError(e string, lines map[string]int) string {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		line, _ := strconv.Atoi(m[1])
		key := keyAt(lines, line, func(k string) bool { return k == m[2] || strings.HasSuffix(k, "."+m[2]) }, true)
		if key == "" {
			key = m[2]
		}
		return fmt.Sprintf("line %d: %s: unknown key (deploy/picket.example.yaml lists every key)", line, key)
	}
	if m := unmarshalError.FindStringSubmatch(e); m != nil {
		line, _ := strconv.Atoi(m[1])
		got := yamlKind(m[2])
		if m[3] != "" {
			got += " `" + m[3] + "`"
		}
		// A scalar is the deepest key of its line; a list or mapping in
		// the wrong place is the shallowest (its own items share the line
		// in flow style).
		deepest := m[2] != "!!seq" && m[2] != "!!map"
		msg := fmt.Sprintf("want %s, got %s", goKind(m[4]), got)
		if key := keyAt(lines, line, nil, deepest); key != "" {
			return fmt.Sprintf("line %d: %s: %s", line, key, msg)
		}
		return fmt.Sprintf("line %d: %s", line, msg)
	}
	if m := lineNumber.FindStringSubmatch(e); m != nil {
		line, _ := strconv.Atoi(m[1])
		// The value at fault, not an item of it (`ttl: [20]`).
		notItem := func(k string) bool { return !strings.HasSuffix(k, "]") }
		if key := keyAt(lines, line, notItem, true); key != "" && !strings.HasPrefix(m[2], key+":") {
			return fmt.Sprintf("line %d: %s: %s", line, key, m[2])
		}
	}
	return e
}

// keyAt returns the key on line that match accepts (nil: any), the
// deepest (or shallowest) one when several share the line; ties go to the
// first in name order.
func keyAt(lines map[string]int, line int, match func(string) bool, deepest bool) string {
	best := ""
	depth := func(k string) int { return strings.Count(k, ".") + strings.Count(k, "[") }
	for k, l := range lines {
		if l != line || match != nil && !match(k) {
			continue
		}
		switch {
		case best == "":
			best = k
		case depth(k) != depth(best):
			if (depth(k) > depth(best)) == deepest {
				best = k
			}
		case k < best:
			best = k
		}
	}
	return best
}

// yamlKind names a YAML tag in words.
func yamlKind(tag string) string {
	switch tag {
	case "!!str":
		return "text"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	case "!!timestamp":
		return "a time"
	}
	return strings.TrimPrefix(tag, "!!")
}

// goKind names what a Go type takes in YAML, in words.
func goKind(typ string) string {
	switch {
	case strings.HasPrefix(typ, "[]"):
		return "a list"
	case strings.HasPrefix(typ, "map["):
		return "a mapping (key: value)"
	case strings.HasSuffix(typ, "Duration"):
		return `a duration such as "20s" or "15m"`
	}
	switch typ {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "text"
	}
	return "a mapping of keys"
}

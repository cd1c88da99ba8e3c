package deploy_test

// A small EventBridge event pattern matcher, enough for the operators the
// module's rules use or may use, following the documented rules
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
// eb-create-pattern-operators.html):
//
//   - A pattern is a JSON object. A key whose value is an object matches the
//     event's field of that name recursively; a key whose value is an array
//     is a leaf: it matches when any of its items matches any value of the
//     event field (arrays are OR).
//   - Event arrays are flattened: a path through an array of objects reaches
//     the field in every element, and an array of scalars gives each
//     scalar as a value. Leaves are matched independently, so two leaves
//     under one array may be satisfied by different elements.
//   - Every leaf must match (AND); a field absent from the event matches
//     nothing except {"exists": false}.
//   - Exact values match values of the same JSON type and value
//     (case-sensitive strings, numbers, true, false, null).
//   - {"prefix": "s"}: a string value starting with s.
//   - {"numeric": [op, n] or [op, n, op, n]}: a number value satisfying every
//     comparison; op is one of = < <= > >=.
//   - {"anything-but": x}: a present value that is not x; x is a value, a list
//     of values, or {"prefix": "s"}.
//   - {"exists": true|false}: whether the field is present with a value;
//     existence only looks at leaf values, not at objects.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// matchPattern reports whether the event matches the pattern; an error
// means the pattern is not one EventBridge would accept (or uses an
// operator this matcher does not know).
func matchPattern(pattern, event []byte) (bool, error) {
	var p map[string]any
	if err := json.Unmarshal(pattern, &p); err != nil {
		return false, fmt.Errorf("pattern: %w", err)
	}
	var e any
	if err := json.Unmarshal(event, &e); err != nil {
		return false, fmt.Errorf("event: %w", err)
	}
	leaves, err := patternLeaves(nil, p)
	if err != nil {
		return false, err
	}
	if len(leaves) == 0 {
		return false, fmt.Errorf("pattern: empty")
	}
	for _, l := range leaves {
		ok, err := matchLeaf(l.rules, values(e, l.path))
		if err != nil {
			return false, fmt.Errorf("pattern %s: %w", strings.Join(l.path, "."), err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

type leaf struct {
	path  []string
	rules []any
}

func patternLeaves(path []string, p map[string]any) ([]leaf, error) {
	var out []leaf
	for _, k := range sortedKeys(p) {
		sub := append(slices.Clone(path), k)
		switch v := p[k].(type) {
		case map[string]any:
			ls, err := patternLeaves(sub, v)
			if err != nil {
				return nil, err
			}
			out = append(out, ls...)
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("pattern %s: empty array", strings.Join(sub, "."))
			}
			out = append(out, leaf{sub, v})
		default:
			return nil, fmt.Errorf("pattern %s: got %T, want an array or an object", strings.Join(sub, "."), v)
		}
	}
	return out, nil
}

// values collects the scalar values at path in v, arrays flattened.
func values(v any, path []string) []any {
	switch x := v.(type) {
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, values(e, path)...)
		}
		return out
	case map[string]any:
		if len(path) == 0 {
			return nil // an object is not a leaf value
		}
		child, ok := x[path[0]]
		if !ok {
			return nil
		}
		return values(child, path[1:])
	default:
		if len(path) > 0 {
			return nil // the event has a scalar where the pattern goes deeper
		}
		return []any{x}
	}
}

func matchLeaf(rules, vals []any) (bool, error) {
	for _, r := range rules {
		ok, err := matchRule(r, vals)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func matchRule(rule any, vals []any) (bool, error) {
	op, isOp := rule.(map[string]any)
	if !isOp {
		return slices.ContainsFunc(vals, func(v any) bool { return sameValue(rule, v) }), nil
	}
	if len(op) != 1 {
		return false, fmt.Errorf("operator object %v: want exactly one key", op)
	}
	for name, arg := range op {
		switch name {
		case "exists":
			want, ok := arg.(bool)
			if !ok {
				return false, fmt.Errorf("exists: got %T, want a boolean", arg)
			}
			return (len(vals) > 0) == want, nil
		case "prefix":
			prefix, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("prefix: got %T, want a string", arg)
			}
			return slices.ContainsFunc(vals, func(v any) bool {
				s, ok := v.(string)
				return ok && strings.HasPrefix(s, prefix)
			}), nil
		case "numeric":
			return matchNumeric(arg, vals)
		case "anything-but":
			return matchAnythingBut(arg, vals)
		default:
			return false, fmt.Errorf("unknown operator %q", name)
		}
	}
	return false, nil
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case string, bool, float64:
		return x == b
	case nil:
		return b == nil
	}
	return false
}

func matchNumeric(arg any, vals []any) (bool, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return false, fmt.Errorf("numeric: got %v, want [op, n] or [op, n, op, n]", arg)
	}
	type cmp struct {
		op string
		n  float64
	}
	var cmps []cmp
	for i := 0; i < len(list); i += 2 {
		op, ok1 := list[i].(string)
		n, ok2 := list[i+1].(float64)
		if !ok1 || !ok2 || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, op) {
			return false, fmt.Errorf("numeric: bad comparison %v %v", list[i], list[i+1])
		}
		cmps = append(cmps, cmp{op, n})
	}
	return slices.ContainsFunc(vals, func(v any) bool {
		x, ok := v.(float64)
		if !ok {
			return false
		}
		for _, c := range cmps {
			var hold bool
			switch c.op {
			case "=":
				hold = x == c.n
			case "<":
				hold = x < c.n
			case "<=":
				hold = x <= c.n
			case ">":
				hold = x > c.n
			case ">=":
				hold = x >= c.n
			}
			if !hold {
				return false
			}
		}
		return true
	}), nil
}

func matchAnythingBut(arg any, vals []any) (bool, error) {
	var excluded func(v any) bool
	switch x := arg.(type) {
	case map[string]any:
		prefix, ok := x["prefix"].(string)
		if !ok || len(x) != 1 {
			return false, fmt.Errorf("anything-but: got %v, want a value, a list or {\"prefix\": s}", x)
		}
		excluded = func(v any) bool {
			s, ok := v.(string)
			return ok && strings.HasPrefix(s, prefix)
		}
	case []any:
		excluded = func(v any) bool {
			return slices.ContainsFunc(x, func(e any) bool { return sameValue(e, v) })
		}
	default:
		excluded = func(v any) bool { return sameValue(x, v) }
	}
	return slices.ContainsFunc(vals, func(v any) bool { return !excluded(v) }), nil
}

// --- the matcher's own tests, one table per operator ----------------------

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

func runMatchCases(t *testing.T, tests []matchCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := matchPattern([]byte(tt.pattern), []byte(tt.event))
			if err != nil {
				t.Fatalf("matchPattern: %v", err)
			}
			if got != tt.want {
				t.Errorf("pattern %s on event %s: got %v, want %v", tt.pattern, tt.event, got, tt.want)
			}
		})
	}
}

func TestMatchExact(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"string", `{"source":["aws.guardduty"]}`, `{"source":"aws.guardduty"}`, true},
		{"string differs", `{"source":["aws.guardduty"]}`, `{"source":"aws.securityhub"}`, false},
		{"case-sensitive", `{"source":["aws.guardduty"]}`, `{"source":"AWS.GuardDuty"}`, false},
		{"array is OR", `{"source":["aws.guardduty","aws.securityhub"]}`, `{"source":"aws.securityhub"}`, true},
		{"event array: any element", `{"resources":["arn:b"]}`, `{"resources":["arn:a","arn:b"]}`, true},
		{"event array: no element", `{"resources":["arn:c"]}`, `{"resources":["arn:a","arn:b"]}`, false},
		{"missing field", `{"detail":{"x":["a"]}}`, `{"detail":{}}`, false},
		{"number", `{"detail":{"n":[5]}}`, `{"detail":{"n":5}}`, true},
		{"number is not a string", `{"detail":{"n":["5"]}}`, `{"detail":{"n":5}}`, false},
		{"boolean", `{"detail":{"archived":[false]}}`, `{"detail":{"archived":false}}`, true},
		{"boolean is not a string", `{"detail":{"archived":["false"]}}`, `{"detail":{"archived":false}}`, false},
		{"null", `{"detail":{"x":[null]}}`, `{"detail":{"x":null}}`, true},
		{"null is not missing", `{"detail":{"x":[null]}}`, `{"detail":{}}`, false},
		{"every leaf must match", `{"source":["a"],"detail-type":["b"]}`, `{"source":"a","detail-type":"c"}`, false},
		{"nested through an array of objects", `{"detail":{"findings":{"RecordState":["ACTIVE"]}}}`,
			`{"detail":{"findings":[{"RecordState":"ARCHIVED"},{"RecordState":"ACTIVE"}]}}`, true},
		{"leaves match different elements", `{"d":{"f":{"a":["1"],"b":["2"]}}}`,
			`{"d":{"f":[{"a":"1","b":"x"},{"a":"x","b":"2"}]}}`, true},
		{"object where a value is expected", `{"detail":["x"]}`, `{"detail":{"x":1}}`, false},
		{"scalar where an object is expected", `{"detail":{"x":["a"]}}`, `{"detail":"a"}`, false},
	})
}

func TestMatchPrefix(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"prefix", `{"r":[{"prefix":"arn:aws:securityhub:"}]}`, `{"r":"arn:aws:securityhub:us-east-1:1:action/custom/x"}`, true},
		{"not a prefix", `{"r":[{"prefix":"arn:aws:securityhub:"}]}`, `{"r":"arn:aws:guardduty:us-east-1"}`, false},
		{"in an array", `{"r":[{"prefix":"b"}]}`, `{"r":["a1","b2"]}`, true},
		{"number is not a string", `{"r":[{"prefix":"1"}]}`, `{"r":12}`, false},
		{"missing", `{"r":[{"prefix":""}]}`, `{}`, false},
		{"or with an exact value", `{"r":["x",{"prefix":"y"}]}`, `{"r":"x"}`, true},
	})
}

func TestMatchNumeric(t *testing.T) {
	runMatchCases(t, []matchCase{
		{">= at the bound", `{"s":[{"numeric":[">=",4]}]}`, `{"s":4}`, true},
		{">= above", `{"s":[{"numeric":[">=",4]}]}`, `{"s":8.9}`, true},
		{">= below", `{"s":[{"numeric":[">=",4]}]}`, `{"s":3.9}`, false},
		{"> at the bound", `{"s":[{"numeric":[">",4]}]}`, `{"s":4}`, false},
		{"<", `{"s":[{"numeric":["<",4]}]}`, `{"s":3.9}`, true},
		{"<= at the bound", `{"s":[{"numeric":["<=",4]}]}`, `{"s":4}`, true},
		{"=", `{"s":[{"numeric":["=",7.5]}]}`, `{"s":7.5}`, true},
		{"range inside", `{"s":[{"numeric":[">=",7,"<",9]}]}`, `{"s":8.9}`, true},
		{"range above", `{"s":[{"numeric":[">=",7,"<",9]}]}`, `{"s":9}`, false},
		{"a string is not a number", `{"s":[{"numeric":[">=",4]}]}`, `{"s":"8"}`, false},
		{"missing", `{"s":[{"numeric":[">=",0]}]}`, `{}`, false},
		{"any value of an array", `{"s":[{"numeric":[">=",4]}]}`, `{"s":[1,5]}`, true},
	})
}

func TestMatchAnythingBut(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"other value", `{"s":[{"anything-but":"RESOLVED"}]}`, `{"s":"NEW"}`, true},
		{"the value", `{"s":[{"anything-but":"RESOLVED"}]}`, `{"s":"RESOLVED"}`, false},
		{"list: none of them", `{"s":[{"anything-but":["RESOLVED","SUPPRESSED"]}]}`, `{"s":"NOTIFIED"}`, true},
		{"list: one of them", `{"s":[{"anything-but":["RESOLVED","SUPPRESSED"]}]}`, `{"s":"SUPPRESSED"}`, false},
		{"number", `{"s":[{"anything-but":0}]}`, `{"s":0}`, false},
		{"number differs", `{"s":[{"anything-but":0}]}`, `{"s":1}`, true},
		{"prefix excluded", `{"s":[{"anything-but":{"prefix":"Canary:"}}]}`, `{"s":"Canary:EC2/Stateless"}`, false},
		{"prefix not excluded", `{"s":[{"anything-but":{"prefix":"Canary:"}}]}`, `{"s":"Backdoor:EC2/X"}`, true},
		{"missing field does not match", `{"s":[{"anything-but":"RESOLVED"}]}`, `{}`, false},
	})
}

func TestMatchExists(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"exists: present", `{"d":{"x":[{"exists":true}]}}`, `{"d":{"x":"v"}}`, true},
		{"exists: missing", `{"d":{"x":[{"exists":true}]}}`, `{"d":{}}`, false},
		{"not exists: missing", `{"d":{"x":[{"exists":false}]}}`, `{"d":{}}`, true},
		{"not exists: present", `{"d":{"x":[{"exists":false}]}}`, `{"d":{"x":0}}`, false},
		{"not exists: no parent", `{"d":{"x":[{"exists":false}]}}`, `{}`, true},
		{"exists on an object (not a leaf)", `{"d":[{"exists":true}]}`, `{"d":{"x":1}}`, false},
		{"exists in an array element", `{"d":{"x":[{"exists":true}]}}`, `{"d":[{"y":1},{"x":1}]}`, true},
	})
}

func TestMatchRejectsBadPatterns(t *testing.T) {
	tests := []struct{ name, pattern string }{
		{"leaf not an array", `{"source":"aws.guardduty"}`},
		{"empty array", `{"source":[]}`},
		{"unknown operator", `{"s":[{"suffix-ish":"x"}]}`},
		{"numeric without a number", `{"s":[{"numeric":[">=","4"]}]}`},
		{"numeric bad operator", `{"s":[{"numeric":["=>",4]}]}`},
		{"exists not boolean", `{"s":[{"exists":"yes"}]}`},
		{"empty pattern", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := matchPattern([]byte(tt.pattern), []byte(`{"s":1,"source":"x"}`)); err == nil {
				t.Errorf("pattern %s: got no error, want one", tt.pattern)
			}
		})
	}
}

// --- the module's patterns against the corpus -----------------------------

// customActionARN is the placeholder the custom action's ARN evaluates to.
const customActionARN = "aws_securityhub_action_target.picket.arn"

// sample is one event, from the corpus or built from a corpus finding.
type sample struct {
	name  string
	event map[string]any
}

// corpusEvents loads every file of testdata/ as EventBridge events: events
// as they are; GuardDuty findings (raw, or in a GetFindings response)
// wrapped in a "GuardDuty Finding" event; ASFF findings wrapped in a
// "Security Hub Findings - Imported" event; custom action events also with
// their action replaced by Picket's.
func corpusEvents(t testing.TB) []sample {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no corpus events in testdata (err %v)", err)
	}
	var out []sample
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		base := filepath.Base(name)
		switch {
		case doc["detail-type"] != nil:
			out = append(out, sample{base, doc})
			if doc["detail-type"] == "Security Hub Findings - Custom Action" {
				mine := clone(t, doc)
				mine["resources"] = []any{customActionARN}
				out = append(out, sample{base + " (Picket's action)", mine})
			}
		case doc["findings"] != nil: // GuardDuty GetFindings response
			for i, f := range doc["findings"].([]any) {
				out = append(out, sample{fmt.Sprintf("%s[%d]", base, i), guardDutyEvent(f)})
			}
		case doc["detail"] != nil: // a GuardDuty event cut down to its detail
			out = append(out, sample{base, guardDutyEvent(doc["detail"])})
		case doc["schemaVersion"] != nil: // raw GuardDuty finding
			out = append(out, sample{base, guardDutyEvent(doc)})
		case doc["SchemaVersion"] != nil: // raw ASFF finding
			out = append(out, sample{base, map[string]any{
				"version": "0", "id": "1", "source": "aws.securityhub",
				"detail-type": "Security Hub Findings - Imported", "account": "111111111111",
				"region": "us-east-1", "resources": []any{doc["ProductArn"]},
				"detail": map[string]any{"findings": []any{doc}},
			}})
		default:
			t.Fatalf("%s: not an event or a finding this test knows", name)
		}
	}
	return out
}

func guardDutyEvent(finding any) map[string]any {
	return map[string]any{
		"version": "0", "id": "1", "source": "aws.guardduty", "detail-type": "GuardDuty Finding",
		"account": "111111111111", "region": "us-east-1", "resources": []any{}, "detail": finding,
	}
}

func clone(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// thresholds are the module settings the patterns are checked under.
type thresholds struct {
	name        string
	minSeverity string  // var.min_severity; "" keeps the default
	minGD       float64 // var.min_guardduty_severity; used when minSeverity != ""
}

var settings = []thresholds{
	{name: "defaults"},
	{name: "informational", minSeverity: "INFORMATIONAL", minGD: 0},
	{name: "low", minSeverity: "LOW", minGD: 1},
	{name: "medium", minSeverity: "MEDIUM", minGD: 4},
	{name: "GuardDuty at 5", minSeverity: "MEDIUM", minGD: 5}, // corpus findings have severity 5: the bound itself
	{name: "high (lower case)", minSeverity: "high", minGD: 7},
	{name: "critical", minSeverity: "CRITICAL", minGD: 9},
}

// oracle says, from the event's content and the thresholds, whether a
// rule should send the event to Picket. It is written independently of
// the patterns: the test compares the two.
type oracle func(e map[string]any, minLabel string, minGD float64) bool

var oracles = map[string]oracle{
	"aws_cloudwatch_event_rule.guardduty": func(e map[string]any, _ string, minGD float64) bool {
		d, _ := e["detail"].(map[string]any)
		sev, ok := d["severity"].(float64)
		svc, _ := d["service"].(map[string]any)
		return e["source"] == "aws.guardduty" && e["detail-type"] == "GuardDuty Finding" &&
			ok && sev >= minGD && svc["archived"] == false
	},
	"aws_cloudwatch_event_rule.securityhub_imported": func(e map[string]any, minLabel string, _ float64) bool {
		if e["source"] != "aws.securityhub" || e["detail-type"] != "Security Hub Findings - Imported" {
			return false
		}
		d, _ := e["detail"].(map[string]any)
		findings, _ := d["findings"].([]any)
		for _, f := range findings {
			f, _ := f.(map[string]any)
			sev, _ := f["Severity"].(map[string]any)
			wf, _ := f["Workflow"].(map[string]any)
			label, _ := sev["Label"].(string)
			if rank(label) >= rank(minLabel) && f["RecordState"] == "ACTIVE" &&
				(wf["Status"] == "NEW" || wf["Status"] == "NOTIFIED") {
				return true
			}
		}
		return false
	},
	"aws_cloudwatch_event_rule.securityhub_custom_action": func(e map[string]any, _ string, _ float64) bool {
		res, _ := e["resources"].([]any)
		return e["source"] == "aws.securityhub" && e["detail-type"] == "Security Hub Findings - Custom Action" &&
			slices.Contains(res, any(customActionARN))
	},

	// The rules of terraform/finding_sources.tf.
	"aws_cloudwatch_event_rule.securityhub_imported_v2": func(e map[string]any, minLabel string, _ float64) bool {
		if e["source"] != "aws.securityhub" || e["detail-type"] != "Findings Imported V2" {
			return false
		}
		d, _ := e["detail"].(map[string]any)
		findings, _ := d["findings"].([]any)
		for _, f := range findings {
			f, _ := f.(map[string]any)
			sev, ok := f["severity_id"].(float64)
			// OCSF severity_id 1..5 are Informational..Critical, 6 Fatal.
			if ok && sev >= float64(rank(minLabel)+1) && sev <= 6 && (f["status_id"] == 1.0 || f["status_id"] == 2.0) {
				return true
			}
		}
		return false
	},
	"aws_cloudwatch_event_rule.inspector": func(e map[string]any, minLabel string, _ float64) bool {
		d, _ := e["detail"].(map[string]any)
		sev, _ := d["severity"].(string)
		return e["source"] == "aws.inspector2" && e["detail-type"] == "Inspector2 Finding" &&
			sev == strings.ToUpper(sev) && rank(sev) >= 0 && rank(sev) >= rank(minLabel) && d["status"] == "ACTIVE"
	},
	"aws_cloudwatch_event_rule.macie": func(e map[string]any, minLabel string, _ float64) bool {
		d, _ := e["detail"].(map[string]any)
		sev, _ := d["severity"].(map[string]any)
		desc, _ := sev["description"].(string)
		ok := desc == "Low" || desc == "Medium" || desc == "High"
		return e["source"] == "aws.macie" && e["detail-type"] == "Macie Finding" &&
			ok && rank(desc) >= rank(minLabel) && d["archived"] == false
	},
	"aws_cloudwatch_event_rule.access_analyzer": func(e map[string]any, _ string, _ float64) bool {
		d, _ := e["detail"].(map[string]any)
		dt := e["detail-type"]
		return e["source"] == "aws.access-analyzer" &&
			(dt == "Access Analyzer Finding" || dt == "Internal Access Finding" || dt == "Unused Access Finding for IAM entities") &&
			d["status"] == "ACTIVE"
	},
}

var labels = []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// rank orders severity labels; an unknown or missing label ranks below all.
func rank(label string) int { return slices.Index(labels, strings.ToUpper(label)) }

// eventPatterns evaluates the event_pattern of every EventBridge rule in
// the module under the thresholds, by rule ("type.name").
func eventPatterns(m *module, th thresholds) (map[string][]byte, string, float64, error) {
	overrides := map[string]cty.Value{}
	minLabel, minGD := "MEDIUM", 4.0 // the module's defaults, checked below
	if th.minSeverity != "" {
		overrides["min_severity"] = cty.StringVal(th.minSeverity)
		overrides["min_guardduty_severity"] = cty.NumberFloatVal(th.minGD)
		minLabel, minGD = th.minSeverity, th.minGD
	}
	ctx, err := m.evalContext(overrides)
	if err != nil {
		return nil, "", 0, err
	}
	if th.minSeverity == "" {
		sev := ctx.Variables["var"].GetAttr("min_severity")
		gd := ctx.Variables["var"].GetAttr("min_guardduty_severity")
		f, _ := gd.AsBigFloat().Float64()
		if sev.AsString() != minLabel || f != minGD {
			return nil, "", 0, fmt.Errorf("module defaults changed: min_severity %s, min_guardduty_severity %v; update the guide and this test", sev.AsString(), f)
		}
	}
	out := map[string][]byte{}
	for _, k := range sortedKeys(m.resources) {
		if !strings.HasPrefix(k, "aws_cloudwatch_event_rule.") {
			continue
		}
		s, err := m.attrString(ctx, k, "event_pattern")
		if err != nil {
			return nil, "", 0, err
		}
		out[k] = []byte(s)
	}
	return out, minLabel, minGD, nil
}

// checkPatterns matches every corpus event against every rule of the
// module under every setting and returns each disagreement with the
// oracles; it also fails a rule that matched nothing or everything.
func checkPatterns(m *module, events []sample) []string {
	var problems []string
	matched := map[string]int{}
	rejected := map[string]int{}
	for _, th := range settings {
		patterns, minLabel, minGD, err := eventPatterns(m, th)
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", th.name, err)}
		}
		if len(patterns) == 0 {
			return []string{"the module has no EventBridge rule"}
		}
		for _, rule := range sortedKeys(patterns) {
			want, ok := oracles[rule]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: no oracle for this rule in pattern_test.go", rule))
				continue
			}
			for _, ev := range events {
				b, _ := json.Marshal(ev.event)
				got, err := matchPattern(patterns[rule], b)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s (%s): %v", rule, th.name, err))
					break
				}
				if w := want(ev.event, minLabel, minGD); got != w {
					problems = append(problems, fmt.Sprintf("%s (%s) on %s: got match %v, want %v", rule, th.name, ev.name, got, w))
				}
				if got {
					matched[rule]++
				} else {
					rejected[rule]++
				}
			}
		}
	}
	for rule := range oracles {
		if matched[rule] == 0 || rejected[rule] == 0 {
			problems = append(problems, fmt.Sprintf("%s matched %d and rejected %d corpus events: the test proves nothing", rule, matched[rule], rejected[rule]))
		}
	}
	sort.Strings(problems)
	return problems
}

// TestEventPatterns: each rule takes exactly the corpus events it should,
// under the default thresholds and others.
func TestEventPatterns(t *testing.T) {
	m := loadModule(t, mainModule)
	for _, p := range checkPatterns(m, corpusEvents(t)) {
		t.Error(p)
	}
}

// TestEventPatternsGuardDutyExamples names the cases the guide promises.
func TestEventPatternsGuardDutyExamples(t *testing.T) {
	m := loadModule(t, mainModule)
	patterns, _, _, err := eventPatterns(m, settings[0])
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, ev := range corpusEvents(t) {
		byName[ev.name] = ev.event
	}
	tests := []struct {
		rule, event string
		want        bool
	}{
		{"aws_cloudwatch_event_rule.guardduty", "eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json", true},
		{"aws_cloudwatch_event_rule.guardduty", "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json", true},
		{"aws_cloudwatch_event_rule.guardduty", "eb_NOT_A_FINDING_AWS_API_Call_via_CloudTrail_CreateSampleFindings__sumologic.json", false},
		{"aws_cloudwatch_event_rule.guardduty", "eb_partial_region_detail_only_UnauthorizedAccess_EC2_SSHBruteForce__aws-samples-waf-acl.json", false},
		{"aws_cloudwatch_event_rule.guardduty", "finding_PenTest_S3_ParrotLinux_ARCHIVED__aws-samples-gd-response.json", false},
		{"aws_cloudwatch_event_rule.securityhub_imported", "imported_ACTIVE_NEW_standard_check__aws-samples-jira.json", true},
		{"aws_cloudwatch_event_rule.securityhub_imported", "imported_RecordState_ARCHIVED_Workflow_NOTIFIED__aws-samples-jira.json", false},
		{"aws_cloudwatch_event_rule.securityhub_imported", "imported_fsbp_EC2.7__asr.json", false},
		{"aws_cloudwatch_event_rule.securityhub_imported", "asff_pci_S3.1_RESOLVED__asr.json", false},
		{"aws_cloudwatch_event_rule.securityhub_imported", "eb_Inspector2_Finding_ECR_package_vulnerability__awsdocs-ecr.json", false},
		{"aws_cloudwatch_event_rule.securityhub_custom_action", "custom_action_Workflow_NOTIFIED__aws-samples-jira.json (Picket's action)", true},
		{"aws_cloudwatch_event_rule.securityhub_custom_action", "custom_action_Workflow_NOTIFIED__aws-samples-jira.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.event, func(t *testing.T) {
			ev, ok := byName[tt.event]
			if !ok {
				t.Fatalf("no corpus event %s", tt.event)
			}
			b, _ := json.Marshal(ev)
			got, err := matchPattern(patterns[tt.rule], b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got match %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEventPatternsBroken proves a pattern that misses events (or lets
// the wrong ones through) fails checkPatterns.
func TestEventPatternsBroken(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(mainModule, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	events := corpusEvents(t)
	tests := []struct {
		name, old, new, want string
	}{
		{"GuardDuty detail-type misspelt", `"detail-type" = ["GuardDuty Finding"]`, `"detail-type" = ["GuardDuty Findings"]`,
			"guardduty (defaults) on eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json: got match false, want true"},
		{"GuardDuty archived as a string", `service = { archived = [false] }`, `service = { archived = ["false"] }`,
			"guardduty (defaults) on eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json: got match false, want true"},
		{"GuardDuty threshold off by one", `numeric = [">=", var.min_guardduty_severity]`, `numeric = [">", var.min_guardduty_severity]`,
			"guardduty (GuardDuty at 5) on eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json: got match false, want true"},
		{"Imported lets archived findings through", `RecordState = ["ACTIVE"]`, `RecordState = ["ACTIVE", "ARCHIVED"]`,
			"imported_RecordState_ARCHIVED_Workflow_NEW__aws-samples-jira.json: got match true, want false"},
		{"custom action of any tool", `resources = [for a in aws_securityhub_action_target.picket : a.arn]`, `resources = [{ prefix = "arn:aws:securityhub:" }]`,
			"custom_action_Workflow_NOTIFIED__aws-samples-jira.json: got match true, want false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.old) {
				t.Fatalf("main.tf no longer contains %q: update this test", tt.old)
			}
			m, err := parseModule(mainModule, map[string]string{"main.tf": strings.Replace(string(src), tt.old, tt.new, 1)})
			if err != nil {
				t.Fatal(err)
			}
			problems := checkPatterns(m, events)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("got %d problems %q, want one containing %q", len(problems), problems, tt.want)
			}
		})
	}
}

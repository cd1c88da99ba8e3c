package deploy_test

import (
	"reflect"
	"testing"
)

// TestPrometheusRuleMatchesRulesFile checks the PrometheusRule beside the
// Kubernetes example carries exactly the rules of
// prometheus/picket-rules.yaml, and that every rule has what on-call
// needs: an alert name, an expression, a severity and a summary.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	type rules struct {
		Groups []map[string]any `yaml:"groups"`
	}
	var file rules
	readYAML(t, "prometheus/picket-rules.yaml", &file)
	var pr struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       rules  `yaml:"spec"`
	}
	readYAML(t, "kubernetes/picket-prometheusrule.yaml", &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Errorf("got %s %s, want monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	if !reflect.DeepEqual(pr.Spec.Groups, file.Groups) {
		t.Errorf("PrometheusRule groups differ from prometheus/picket-rules.yaml:\ngot  %v\nwant %v", pr.Spec.Groups, file.Groups)
	}
	var typed struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "prometheus/picket-rules.yaml", &typed)
	n := 0
	for _, g := range typed.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks an alert name, expression, severity or summary", r)
			}
		}
	}
	if n < 7 {
		t.Errorf("got %d rules, want at least the 7 the README describes", n)
	}
}

package enrich_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/enrich"
	"github.com/picketsec/picket/internal/awsfake"
)

// patchableFinding is an Inspector package vulnerability with a fix in an
// OS package, on instance i-0abc.
func patchableFinding() *picket.Finding {
	f := instanceFinding("us-east-1")
	f.Key, f.Source = "k-p", picket.SourceInspector
	f.Vulnerabilities = []picket.Vulnerability{{ID: "CVE-2023-38545", FixAvailable: "YES",
		Packages: []picket.Package{{Name: "curl", Version: "7.88.1", FixedIn: "8.3.0", Manager: "OS"}}}}
	return f
}

func TestEnrichSystemsManagerState(t *testing.T) {
	tests := []struct {
		name        string
		resp        awsfake.Response
		want        *picket.ManagedInstance
		wantMissing string
	}{
		{"managed and online", awsfake.JSONBody(map[string]any{"InstanceInformationList": []any{map[string]any{
			"InstanceId": "i-0abc", "PingStatus": "Online", "PlatformName": "Amazon Linux", "PlatformVersion": "2023", "AgentVersion": "3.2.0"}}}),
			&picket.ManagedInstance{InstanceID: "i-0abc", Managed: true, PingStatus: "Online", Platform: "Amazon Linux 2023", AgentVersion: "3.2.0"}, ""},
		{"not managed", awsfake.JSONBody(map[string]any{"InstanceInformationList": []any{}}),
			&picket.ManagedInstance{InstanceID: "i-0abc"}, ""},
		{"denied", awsfake.JSONError("AccessDeniedException", "not authorized"), nil, "Systems Manager state of instance i-0abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})
			fx.srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", instanceXML)))
			fx.srv.On("ssm", "DescribeInstanceInformation", awsfake.Reply(tt.resp))
			got := fx.enricher.Enrich(context.Background(), patchableFinding())
			switch {
			case tt.want == nil && got.SSM != nil:
				t.Errorf("got SSM %+v, want none", got.SSM)
			case tt.want != nil && (got.SSM == nil || *got.SSM != *tt.want):
				t.Errorf("got SSM %+v, want %+v", got.SSM, tt.want)
			}
			if tt.wantMissing != "" && !slices.ContainsFunc(got.Missing, func(m string) bool { return strings.HasPrefix(m, tt.wantMissing) }) {
				t.Errorf("got missing %q, want a line about %q", got.Missing, tt.wantMissing)
			}
			if c := fx.srv.Calls(); !slices.ContainsFunc(c, func(c awsfake.Call) bool {
				return c.Operation == "DescribeInstanceInformation" && strings.Contains(string(c.Body), `"Key":"InstanceIds","Values":["i-0abc"]`)
			}) {
				t.Errorf("no DescribeInstanceInformation filtered by the instance id in %v", fx.srv.Operations())
			}
		})
	}
	t.Run("only for findings Patch instance applies to", func(t *testing.T) {
		fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})
		fx.srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", instanceXML)))
		got := fx.enricher.Enrich(context.Background(), instanceFinding("us-east-1"))
		if got.SSM != nil || slices.Contains(fx.srv.Operations(), "ssm:DescribeInstanceInformation") {
			t.Errorf("asked Systems Manager about a finding with nothing to patch: %v", fx.srv.Operations())
		}
	})
}

package picket_test

import (
	"testing"

	"github.com/picketsec/picket"
)

// TestClaimKeyPerResource checks that a containment is claimed per
// resource (kind, account, region, id), so two findings about one user
// give one disable, while other actions stay per finding.
func TestClaimKeyPerResource(t *testing.T) {
	req := func(kind picket.ActionKind, finding, account, region string, target picket.Resource) picket.ActionRequest {
		return picket.ActionRequest{Kind: kind, FindingKey: finding, Account: account, Region: region, Target: target}
	}
	alice := picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice"}
	inst := picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0abc"}
	role := picket.Resource{Kind: picket.ResourceRoleSession, ID: "web", Session: "i-0abc"}
	for _, tc := range []struct {
		name string
		a, b picket.ActionRequest
		same bool
	}{
		{"one user, two findings", req(picket.ActionDisableUser, "f1", "111111111111", "us-east-1", alice),
			req(picket.ActionDisableUser, "f2", "111111111111", "eu-west-1", alice), true},
		{"user names differ only in case", req(picket.ActionDisableUser, "f1", "111111111111", "us-east-1", alice),
			req(picket.ActionDisableUser, "f2", "111111111111", "us-east-1", picket.Resource{Kind: picket.ResourceIAMUser, ID: "Alice"}), true},
		{"same user name, other account", req(picket.ActionDisableUser, "f1", "111111111111", "us-east-1", alice),
			req(picket.ActionDisableUser, "f1", "222222222222", "us-east-1", alice), false},
		{"one instance, two findings", req(picket.ActionQuarantineInstance, "f1", "111111111111", "us-east-1", inst),
			req(picket.ActionQuarantineInstance, "f2", "111111111111", "us-east-1", inst), true},
		{"same instance id, other region", req(picket.ActionQuarantineInstance, "f1", "111111111111", "us-east-1", inst),
			req(picket.ActionQuarantineInstance, "f1", "111111111111", "us-west-2", inst), false},
		{"one role, two sessions", req(picket.ActionRevokeSessions, "f1", "111111111111", "us-east-1", role),
			req(picket.ActionRevokeSessions, "f2", "111111111111", "us-east-1", picket.Resource{Kind: picket.ResourceRoleSession, ID: "web", Session: "other"}), true},
		{"a user and a role of one name", req(picket.ActionDisableUser, "f1", "111111111111", "us-east-1", picket.Resource{Kind: picket.ResourceIAMUser, ID: "web"}),
			req(picket.ActionRevokeSessions, "f1", "111111111111", "us-east-1", role), false},
		{"suppress stays per finding", req(picket.ActionSuppress, "f1", "111111111111", "us-east-1", alice),
			req(picket.ActionSuppress, "f2", "111111111111", "us-east-1", alice), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := tc.a.ClaimKey(), tc.b.ClaimKey()
			if got := ka == kb; got != tc.same {
				t.Errorf("got claim keys %q and %q (same %v), want same %v", ka, kb, got, tc.same)
			}
		})
	}
}

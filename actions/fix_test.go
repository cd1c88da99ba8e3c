package actions_test

// The fix buttons driven the way a person drives them: a signed Slack
// click (and Socket Mode envelopes), the plan dialog, the confirmation,
// the recording AWS fake answering the real SDK clients, the audit trail
// in the real store, and Undo. Findings are the corpus samples in
// testdata (see testdata/README.md), decoded by package event.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/notifiers"
)

const (
	fixAccount = "111111111111"
	fixGroup   = "sg-3d10bb58e8b1355ed"
	fixBucket  = "so0111-aws-cloudtrail-111111111111"
)

// sampleFinding decodes a testdata sample, first applying edit (when not
// nil) to its ASFF finding object.
func sampleFinding(t *testing.T, file string, edit func(f map[string]any)) *picket.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		f := doc
		if d, ok := doc["detail"].(map[string]any); ok {
			f = d["findings"].([]any)[0].(map[string]any)
		}
		edit(f)
		b, _ = json.Marshal(doc)
	}
	fs, err := event.Decode(b)
	if err != nil || len(fs) != 1 {
		t.Fatalf("decode %s: %d findings, %v", file, len(fs), err)
	}
	return &fs[0]
}

// bucketFinding is the corpus S3.2 sample turned FAILED (the corpus has
// only its PASSED form).
func bucketFinding(t *testing.T) *picket.Finding {
	return sampleFinding(t, "asff_fsbp_S3.2_RESOLVED_PASSED__asr.json", func(f map[string]any) {
		f["Compliance"] = map[string]any{"Status": "FAILED"}
		f["Workflow"] = map[string]any{"Status": "NEW"}
	})
}

// accountBPAFinding is the corpus EC2.7 sample (resource AwsAccount)
// turned into a consolidated S3.1 finding.
func accountBPAFinding(t *testing.T) *picket.Finding {
	return sampleFinding(t, "imported_fsbp_EC2.7__asr.json", func(f map[string]any) {
		f["GeneratorId"] = "security-control/S3.1"
		f["Title"] = "S3 general purpose buckets should have block public access settings enabled"
		f["ProductFields"].(map[string]any)["ControlId"] = "S3.1"
		f["Compliance"] = map[string]any{"Status": "FAILED", "SecurityControlId": "S3.1"}
	})
}

func sgFinding(t *testing.T) *picket.Finding {
	return sampleFinding(t, "asff_cis_1.2.0_rule_4.2__asr.json", nil)
}

func ebsFinding(t *testing.T) *picket.Finding {
	return sampleFinding(t, "imported_fsbp_EC2.7__asr.json", nil)
}

// fixClientsAt returns clients whose real SDK clients all talk to srv.
// S3 Control puts the account id in front of the host name, as AWS
// does: its HTTP client dials the fake whatever the host.
func fixClientsAt(t *testing.T, srv *awsfake.Server) actions.ClientsFunc {
	t.Helper()
	addr := strings.TrimPrefix(srv.URL(), "http://")
	anyHost := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	t.Cleanup(anyHost.CloseIdleConnections)
	cfg := srv.Config()
	c := actions.Clients{
		EC2:         ec2.NewFromConfig(cfg),
		SecurityHub: securityhub.NewFromConfig(cfg),
		S3:          s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		S3Control:   s3control.NewFromConfig(cfg, func(o *s3control.Options) { o.HTTPClient = anyHost }),
	}
	return func(context.Context, string, string) (actions.Clients, error) { return c, nil }
}

// fixScenario is what the fake AWS reports.
type fixScenario struct {
	bucketTags string // <Tag> elements
	bucketBPA  string // the inner XML of the bucket's configuration; "" for none
	accountBPA string // the same for the account
	groupTags  string // <item> elements of the group's tagSet
	rules      string // <item> elements of DescribeSecurityGroupRules
}

func bpaXML(acls, ignore, policy, restrict bool) string {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	return "<BlockPublicAcls>" + b(acls) + "</BlockPublicAcls><IgnorePublicAcls>" + b(ignore) + "</IgnorePublicAcls>" +
		"<BlockPublicPolicy>" + b(policy) + "</BlockPublicPolicy><RestrictPublicBuckets>" + b(restrict) + "</RestrictPublicBuckets>"
}

func ruleXML(id, proto string, from, to int, cidr4, cidr6, desc string, egress bool) string {
	s := "<item><securityGroupRuleId>" + id + "</securityGroupRuleId><groupId>" + fixGroup + "</groupId><groupOwnerId>" + fixAccount +
		"</groupOwnerId><ipProtocol>" + proto + "</ipProtocol><fromPort>" + strconv.Itoa(from) + "</fromPort><toPort>" + strconv.Itoa(to) + "</toPort>"
	if egress {
		s += "<isEgress>true</isEgress>"
	} else {
		s += "<isEgress>false</isEgress>"
	}
	if cidr4 != "" {
		s += "<cidrIpv4>" + cidr4 + "</cidrIpv4>"
	}
	if cidr6 != "" {
		s += "<cidrIpv6>" + cidr6 + "</cidrIpv6>"
	}
	if desc != "" {
		s += "<description>" + desc + "</description>"
	}
	return s + "</item>"
}

// defaultRules are the group's rules: RDP open to the world on IPv4 and
// IPv6 (what control EC2.14 / CIS 4.2 reports), and rules the control
// does not name, which must be left alone.
var defaultRules = ruleXML("sgr-rdp4", "tcp", 3389, 3389, "0.0.0.0/0", "", "rdp for admins", false) +
	ruleXML("sgr-rdp6", "tcp", 3389, 3389, "", "::/0", "", false) +
	ruleXML("sgr-ssh-office", "tcp", 22, 22, "10.0.0.0/8", "", "office", false) +
	ruleXML("sgr-https", "tcp", 443, 443, "0.0.0.0/0", "", "web", false) +
	ruleXML("sgr-egress", "-1", -1, -1, "0.0.0.0/0", "", "", true)

func s3Error(status int, code string) awsfake.Response {
	return awsfake.Response{Status: status, Body: "<Error><Code>" + code + "</Code><Message>" + code + "</Message><RequestId>" +
		awsfake.RequestIDPlaceholder + "</RequestId></Error>"}.WithHeader("Content-Type", "application/xml")
}

// newFixFake registers every call the fix runbooks make. owners records
// the expected-bucket-owner header of each S3 call.
func newFixFake(t *testing.T, sc fixScenario) (*awsfake.Server, *[]string) {
	t.Helper()
	srv := awsfake.New(t)
	var mu sync.Mutex
	owners := &[]string{}
	owner := func(h awsfake.Handler) awsfake.Handler {
		return func(r *awsfake.Request) awsfake.Response {
			mu.Lock()
			*owners = append(*owners, r.Header.Get("X-Amz-Expected-Bucket-Owner"))
			mu.Unlock()
			return h(r)
		}
	}
	srv.OnREST("s3", "GetBucketTagging", "GET", "/{Bucket}?tagging", owner(func(*awsfake.Request) awsfake.Response {
		if sc.bucketTags == "" {
			return s3Error(http.StatusNotFound, "NoSuchTagSet")
		}
		return awsfake.XML("<Tagging><TagSet>" + sc.bucketTags + "</TagSet></Tagging>")
	}))
	bpa := func(inner string, wrapped bool) awsfake.Handler {
		return func(*awsfake.Request) awsfake.Response {
			if inner == "" && wrapped {
				// S3 Control wraps its errors in <ErrorResponse>.
				return awsfake.Response{Status: http.StatusNotFound, Body: "<ErrorResponse><Error><Code>NoSuchPublicAccessBlockConfiguration</Code>" +
					"<Message>none</Message></Error><RequestId>" + awsfake.RequestIDPlaceholder + "</RequestId></ErrorResponse>"}.WithHeader("Content-Type", "application/xml")
			}
			if inner == "" {
				return s3Error(http.StatusNotFound, "NoSuchPublicAccessBlockConfiguration")
			}
			return awsfake.XML("<PublicAccessBlockConfiguration>" + inner + "</PublicAccessBlockConfiguration>")
		}
	}
	srv.OnREST("s3", "GetPublicAccessBlock", "GET", "/{Bucket}?publicAccessBlock", owner(bpa(sc.bucketBPA, false)))
	srv.OnREST("s3", "PutPublicAccessBlock", "PUT", "/{Bucket}?publicAccessBlock", owner(awsfake.Reply(awsfake.XML(""))))
	srv.OnREST("s3", "DeletePublicAccessBlock", "DELETE", "/{Bucket}?publicAccessBlock", owner(awsfake.Reply(awsfake.Response{Status: http.StatusNoContent})))
	const control = "/v20180820/configuration/publicAccessBlock"
	srv.OnREST("s3", "GetAccountPublicAccessBlock", "GET", control, bpa(sc.accountBPA, true))
	srv.OnREST("s3", "PutAccountPublicAccessBlock", "PUT", control, awsfake.Reply(awsfake.XML("")))
	srv.OnREST("s3", "DeleteAccountPublicAccessBlock", "DELETE", control, awsfake.Reply(awsfake.Response{Status: http.StatusNoContent}))

	srv.On("ec2", "DescribeSecurityGroups", awsfake.Reply(awsfake.EC2Result("DescribeSecurityGroups",
		"<securityGroupInfo><item><ownerId>"+fixAccount+"</ownerId><groupId>"+fixGroup+"</groupId><groupName>my-insecure-group</groupName>"+
			"<vpcId>vpc-217fe4c7e602802d4</vpcId><tagSet>"+sc.groupTags+"</tagSet></item></securityGroupInfo>")))
	rules := sc.rules
	if rules == "" {
		rules = defaultRules
	}
	srv.On("ec2", "DescribeSecurityGroupRules", awsfake.Reply(awsfake.EC2Result("DescribeSecurityGroupRules", "<securityGroupRuleSet>"+rules+"</securityGroupRuleSet>")))
	srv.On("ec2", "RevokeSecurityGroupIngress", awsfake.Reply(awsfake.EC2Result("RevokeSecurityGroupIngress", "<return>true</return>")))
	srv.On("ec2", "AuthorizeSecurityGroupIngress", awsfake.Reply(awsfake.EC2Result("AuthorizeSecurityGroupIngress", "<return>true</return>")))
	srv.On("ec2", "GetEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("GetEbsEncryptionByDefault", "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")))
	srv.On("ec2", "EnableEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("EnableEbsEncryptionByDefault", "<ebsEncryptionByDefault>true</ebsEncryptionByDefault>")))
	srv.On("ec2", "DisableEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("DisableEbsEncryptionByDefault", "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")))
	srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedFindings": []any{}, "UnprocessedFindings": []any{}})))
	return srv, owners
}

// fixCase is one runbook as the tests drive it.
type fixCase struct {
	name     string
	kind     picket.ActionKind
	actionID string
	finding  func(t *testing.T) *picket.Finding
	scenario fixScenario
	// reads, writes and undo are the exact AWS calls of planning,
	// running (after the reads) and undoing.
	reads, writes, undo []string
	// protect makes the resource protected (or the account not allowed);
	// protectedReads are the calls made before the refusal.
	protect        func(g *actions.Guardrails, p *actions.Policy, sc *fixScenario)
	protectedReads []string
}

var fixCases = []fixCase{
	{
		name: "S3 bucket public", kind: picket.ActionFixBucketPublicAccess, actionID: notifiers.ActionFixBucketPublicAccess,
		finding:  bucketFinding,
		scenario: fixScenario{bucketTags: "<Tag><Key>team</Key><Value>audit</Value></Tag>", bucketBPA: bpaXML(true, false, false, false)},
		reads:    []string{"s3:GetBucketTagging", "s3:GetPublicAccessBlock"},
		writes:   []string{"s3:PutPublicAccessBlock", "securityhub:BatchUpdateFindings"},
		undo:     []string{"s3:PutPublicAccessBlock", "securityhub:BatchUpdateFindings"},
		protect: func(_ *actions.Guardrails, _ *actions.Policy, sc *fixScenario) {
			sc.bucketTags = "<Tag><Key>picket:protected</Key><Value>true</Value></Tag>"
		},
		protectedReads: []string{"s3:GetBucketTagging"},
	},
	{
		name: "account Block Public Access off", kind: picket.ActionFixAccountPublicAccess, actionID: notifiers.ActionFixAccountPublicAccess,
		finding:  accountBPAFinding,
		scenario: fixScenario{}, // no configuration: Undo deletes it
		reads:    []string{"s3:GetAccountPublicAccessBlock"},
		writes:   []string{"s3:PutAccountPublicAccessBlock", "securityhub:BatchUpdateFindings"},
		undo:     []string{"s3:DeleteAccountPublicAccessBlock", "securityhub:BatchUpdateFindings"},
		protect: func(_ *actions.Guardrails, p *actions.Policy, _ *fixScenario) {
			p.AllowedAccounts = []string{"999999999999"}
		},
	},
	{
		name: "security group open", kind: picket.ActionFixSecurityGroup, actionID: notifiers.ActionFixSecurityGroup,
		finding: sgFinding,
		reads:   []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"},
		writes:  []string{"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "securityhub:BatchUpdateFindings"},
		undo:    []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress", "securityhub:BatchUpdateFindings"},
		protect: func(g *actions.Guardrails, _ *actions.Policy, _ *fixScenario) {
			g.ProtectedSecurityGroups = []string{"my-insecure-*"}
		},
		protectedReads: []string{"ec2:DescribeSecurityGroups"},
	},
	{
		name: "EBS default encryption off", kind: picket.ActionFixEBSEncryption, actionID: notifiers.ActionFixEBSEncryption,
		finding: ebsFinding,
		reads:   []string{"ec2:GetEbsEncryptionByDefault"},
		writes:  []string{"ec2:EnableEbsEncryptionByDefault", "securityhub:BatchUpdateFindings"},
		undo:    []string{"ec2:DisableEbsEncryptionByDefault", "securityhub:BatchUpdateFindings"},
		protect: func(_ *actions.Guardrails, p *actions.Policy, _ *fixScenario) {
			p.AllowedAccounts = []string{"999999999999"}
		},
	},
}

// fixFlow wires one fix runbook (with guard) into a flow on a fake with sc.
func fixFlow(t *testing.T, tc fixCase, sc fixScenario, guard actions.Guardrails, policy actions.Policy, f *picket.Finding) *flow {
	t.Helper()
	srv, _ := newFixFake(t, sc)
	fx := &actions.Fix{Kind: tc.kind, Clients: fixClientsAt(t, srv), Guard: guard, Now: stoppedClock()}
	return newFlow(t, srv, policy, map[picket.ActionKind]picket.Responder{tc.kind: fx}, map[picket.ActionKind]actions.Undoer{tc.kind: fx}, f)
}

var dryRunChecked = map[string]any{"dry_run": map[string]any{"dry_run": map[string]any{
	"type": "checkboxes", "selected_options": []any{map[string]any{"value": "dry_run"}}}}}

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

func TestSlackFixRunbooks(t *testing.T) {
	for _, tc := range fixCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("success and undo", func(t *testing.T) {
				f := tc.finding(t)
				if !slices.ContainsFunc(notifiersButtons(f), func(id string) bool { return id == tc.actionID }) {
					t.Fatalf("the alert of the sample offers no %s button", tc.actionID)
				}
				fl := fixFlow(t, tc, tc.scenario, actions.Guardrails{}, actions.Policy{}, f)
				meta, text := fl.plan("U0ALICE", tc.actionID, f.Key)
				if got := fl.aws.Operations(); !slices.Equal(got, tc.reads) {
					t.Fatalf("planning calls:\n got %v\nwant %v (reads only)", got, tc.reads)
				}
				if !strings.Contains(text, fixAccount) || !strings.Contains(text, "changes live resources") {
					t.Errorf("plan dialog does not warn that it changes the account's resources:\n%s", text)
				}
				fl.aws.Reset()
				thread, eph := fl.confirm("U0ALICE", meta, nil, true)
				if got, want := fl.aws.Operations(), cat(tc.reads, tc.writes); !slices.Equal(got, want) {
					t.Fatalf("calls after confirming:\n got %v\nwant %v", got, want)
				}
				if thread.Get("thread_ts") != "1700000000.000001" || eph.Get("user") != "U0ALICE" {
					t.Errorf("outcome went to thread %q and ephemeral %q, want the alert's thread and alice", thread.Get("thread_ts"), eph.Get("user"))
				}
				recs, _ := fl.db.ActionsForFinding(f.Key)
				if len(recs) != 1 || recs[0].Status != picket.OutcomeSucceeded || recs[0].Request.Kind != tc.kind {
					t.Fatalf("records = %+v, want one succeeded %s", recs, tc.kind)
				}
				_, _, _, _, edits := fl.slack.snapshot()
				if len(edits) == 0 || !strings.Contains(edits[len(edits)-1].Get("attachments")+edits[len(edits)-1].Get("blocks"), notifiers.ActionUndo) {
					t.Fatal("the alert was not updated with an Undo button")
				}

				metaU, textU := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
				if strings.Contains(textU, "cannot") {
					t.Fatalf("undo refused:\n%s", textU)
				}
				fl.aws.Reset()
				fl.confirm("U0BOB", metaU, nil, true)
				if got := fl.aws.Operations(); !slices.Equal(got, tc.undo) {
					t.Fatalf("undo calls:\n got %v\nwant %v", got, tc.undo)
				}
				if orig, _, _ := fl.db.Action(recs[0].Request.ID); orig.UndoneBy == "" {
					t.Error("the fix is not marked undone")
				}
				want := []string{"requested:U0ALICE:", "executed:U0ALICE:succeeded", "requested:U0BOB:", "executed:U0BOB:succeeded"}
				if got := fl.auditEvents(); !slices.Equal(got, want) {
					t.Errorf("audit = %v, want %v", got, want)
				}
				es, _ := fl.db.RecentAudit(10)
				if e := es[1]; e.Action != tc.kind || len(e.Calls) != len(tc.reads)+len(tc.writes) || len(e.Plan) == 0 {
					t.Errorf("executed entry: action %s, %d calls, %d plan steps; want %s with every call and the plan", e.Action, len(e.Calls), len(e.Plan), tc.kind)
				}
			})
			t.Run("dry run makes no write", func(t *testing.T) {
				f := tc.finding(t)
				fl := fixFlow(t, tc, tc.scenario, actions.Guardrails{}, actions.Policy{}, f)
				meta, _ := fl.plan("U0ALICE", tc.actionID, f.Key)
				fl.aws.Reset()
				thread, _ := fl.confirm("U0ALICE", meta, dryRunChecked, true)
				if got := fl.aws.Operations(); !slices.Equal(got, tc.reads) {
					t.Fatalf("dry-run calls:\n got %v\nwant %v (the reads, no write)", got, tc.reads)
				}
				if reply := thread.Get("attachments") + thread.Get("blocks") + thread.Get("text"); !strings.Contains(reply, "Dry run") {
					t.Errorf("thread reply does not say it was a dry run:\n%s", reply)
				}
				recs, _ := fl.db.ActionsForFinding(f.Key)
				if len(recs) != 1 || recs[0].Status != picket.OutcomeDryRunned {
					t.Fatalf("records = %+v, want one dry_run", recs)
				}
			})
			t.Run("denied", func(t *testing.T) {
				f := tc.finding(t)
				fl := fixFlow(t, tc, tc.scenario, actions.Guardrails{}, actions.Policy{Roles: []actions.Role{
					{Name: "fixers", Users: []string{"U0ALICE"}, Actions: []string{string(tc.kind)}},
					{Name: "others", Users: []string{"U0EVE"}, Actions: []string{"suppress", "escalate"}},
				}}, f)
				_, text := fl.plan("U0EVE", tc.actionID, f.Key)
				if !strings.Contains(text, "not allowed") {
					t.Errorf("dialog for an unauthorized user does not say so:\n%s", text)
				}
				if ops := fl.aws.Operations(); len(ops) != 0 {
					t.Errorf("AWS calls for an unauthorized click: %v", ops)
				}
				if got := fl.auditEvents(); !slices.Equal(got, []string{"denied:U0EVE:denied"}) {
					t.Errorf("audit = %v, want one denied entry", got)
				}
			})
			t.Run("protected", func(t *testing.T) {
				f := tc.finding(t)
				g, p, sc := actions.Guardrails{}, actions.Policy{}, tc.scenario
				tc.protect(&g, &p, &sc)
				fl := fixFlow(t, tc, sc, g, p, f)
				_, text := fl.plan("U0ALICE", tc.actionID, f.Key)
				if !strings.Contains(text, "protected") && !strings.Contains(text, "allow-list") {
					t.Errorf("dialog does not explain the refusal:\n%s", text)
				}
				if got := fl.aws.Operations(); !slices.Equal(got, tc.protectedReads) {
					t.Errorf("calls for a protected resource: got %v, want %v", got, tc.protectedReads)
				}
				if got := fl.auditEvents(); len(got) != 1 || !strings.HasPrefix(got[0], "refused:U0ALICE") {
					t.Errorf("audit = %v, want one refused entry", got)
				}
			})
		})
	}
}

// notifiersButtons lists the action ids of the buttons an alert shows.
func notifiersButtons(f *picket.Finding) []string {
	b, _ := json.Marshal(notifiers.Render(picket.Alert{Finding: f, Channel: "C0ALERTS"}))
	var ids []string
	for _, part := range strings.Split(string(b), `"action_id":"`)[1:] {
		ids = append(ids, part[:strings.IndexByte(part, '"')])
	}
	return ids
}

// TestSlackFixSecurityGroupRevokesExactlyTheRules checks the requests: the
// two world-open RDP rules by id, nothing else; and Undo adds exactly them
// back, with their description.
func TestSlackFixSecurityGroupRevokesExactlyTheRules(t *testing.T) {
	tc := fixCases[2]
	f := sgFinding(t)
	fl := fixFlow(t, tc, fixScenario{}, actions.Guardrails{}, actions.Policy{}, f)
	meta, text := fl.plan("U0ALICE", tc.actionID, f.Key)
	for _, want := range []string{"sgr-rdp4", "sgr-rdp6", "3389"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan dialog does not name %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"sgr-ssh-office", "sgr-https", "sgr-egress"} {
		if strings.Contains(text, not) {
			t.Errorf("plan dialog names %s, a rule the control does not report", not)
		}
	}
	fl.aws.Reset()
	fl.confirm("U0ALICE", meta, nil, true)
	var revoked []string
	for _, c := range fl.aws.Calls() {
		if c.Operation == "RevokeSecurityGroupIngress" {
			if c.Param("GroupId") != fixGroup || c.Param("SecurityGroupRuleId.2") != "" || c.Param("IpPermissions.1.IpProtocol") != "" {
				t.Errorf("revoke request %v: want one rule id of group %s and no permissions", c.Form, fixGroup)
			}
			revoked = append(revoked, c.Param("SecurityGroupRuleId.1"))
		}
	}
	if !slices.Equal(revoked, []string{"sgr-rdp4", "sgr-rdp6"}) {
		t.Fatalf("revoked %v, want exactly sgr-rdp4 and sgr-rdp6", revoked)
	}
	recs, _ := fl.db.ActionsForFinding(f.Key)
	metaU, _ := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	type perm struct{ proto, from, to, cidr4, cidr6, desc string }
	var got []perm
	for _, c := range fl.aws.Calls() {
		if c.Operation == "AuthorizeSecurityGroupIngress" {
			got = append(got, perm{c.Param("IpPermissions.1.IpProtocol"), c.Param("IpPermissions.1.FromPort"), c.Param("IpPermissions.1.ToPort"),
				c.Param("IpPermissions.1.IpRanges.1.CidrIp"), c.Param("IpPermissions.1.Ipv6Ranges.1.CidrIpv6"),
				c.Param("IpPermissions.1.IpRanges.1.Description")})
		}
	}
	want := []perm{{"tcp", "3389", "3389", "0.0.0.0/0", "", "rdp for admins"}, {"tcp", "3389", "3389", "", "::/0", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("undo re-added %+v, want %+v", got, want)
	}
}

// TestSlackFixSecurityGroupPartialFailure: one of the two rules cannot be
// revoked. The reply, the record and the audit say so, and Undo re-adds
// only the rule that was revoked.
func TestSlackFixSecurityGroupPartialFailure(t *testing.T) {
	tc := fixCases[2]
	f := sgFinding(t)
	fl := fixFlow(t, tc, fixScenario{}, actions.Guardrails{}, actions.Policy{}, f)
	fl.aws.On("ec2", "RevokeSecurityGroupIngress", func(r *awsfake.Request) awsfake.Response {
		if r.Param("SecurityGroupRuleId.1") == "sgr-rdp6" {
			return awsfake.EC2Error("UnauthorizedOperation", "You are not authorized to perform this operation.")
		}
		return awsfake.EC2Result("RevokeSecurityGroupIngress", "<return>true</return>")
	})
	meta, _ := fl.plan("U0ALICE", tc.actionID, f.Key)
	fl.aws.Reset()
	thread, eph := fl.confirm("U0ALICE", meta, nil, true)
	if got, want := fl.aws.Operations(), cat(tc.reads, tc.writes); !slices.Equal(got, want) {
		t.Fatalf("calls:\n got %v\nwant %v (the second revoke is still tried, and the finding noted)", got, want)
	}
	reply := thread.Get("attachments") + thread.Get("blocks") + thread.Get("text")
	for _, want := range []string{"UnauthorizedOperation", "1 of 2", "sgr-rdp4"} {
		if !strings.Contains(reply, want) {
			t.Errorf("thread reply does not say %q:\n%s", want, reply)
		}
	}
	if strings.Contains(eph.Get("text"), "Revoked 2") {
		t.Errorf("ephemeral claims both rules were revoked: %q", eph.Get("text"))
	}
	recs, _ := fl.db.ActionsForFinding(f.Key)
	if len(recs) != 1 || recs[0].Status != picket.OutcomePartial {
		t.Fatalf("records = %+v, want one partial", recs)
	}
	es, _ := fl.db.RecentAudit(10)
	last := es[len(es)-1]
	if last.Outcome != string(picket.OutcomePartial) || !slices.ContainsFunc(last.Calls, func(s picket.StepResult) bool {
		return s.Status == picket.StepFailed && s.ErrorCode == "UnauthorizedOperation" && strings.Contains(s.Description, "sgr-rdp6")
	}) {
		t.Errorf("audit entry %+v does not record the failed revoke of sgr-rdp6", last)
	}

	metaU, textU := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	if strings.Contains(textU, "sgr-rdp6") {
		t.Errorf("undo plan would re-add sgr-rdp6, which was never revoked:\n%s", textU)
	}
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	if got := fl.aws.Operations(); !slices.Equal(got, []string{"ec2:AuthorizeSecurityGroupIngress", "securityhub:BatchUpdateFindings"}) {
		t.Errorf("undo calls = %v, want one authorize (sgr-rdp4) and the note", got)
	}
}

// TestSlackFixBucketFailureTellsTheTruth: the write is refused by AWS;
// nothing changed, the outcome is failed, Undo is not offered.
func TestSlackFixBucketFailureTellsTheTruth(t *testing.T) {
	tc := fixCases[0]
	f := bucketFinding(t)
	fl := fixFlow(t, tc, tc.scenario, actions.Guardrails{}, actions.Policy{}, f)
	fl.aws.OnREST("s3", "PutPublicAccessBlock", "PUT", "/{Bucket}?publicAccessBlock", awsfake.Reply(s3Error(http.StatusForbidden, "AccessDenied")))
	meta, _ := fl.plan("U0ALICE", tc.actionID, f.Key)
	thread, _ := fl.confirm("U0ALICE", meta, nil, true)
	reply := thread.Get("attachments") + thread.Get("blocks") + thread.Get("text")
	if !strings.Contains(reply, "AccessDenied") || !strings.Contains(reply, "Nothing was changed") {
		t.Errorf("thread reply does not tell the failure:\n%s", reply)
	}
	recs, _ := fl.db.ActionsForFinding(f.Key)
	if len(recs) != 1 || recs[0].Status != picket.OutcomeFailed {
		t.Fatalf("records = %+v, want one failed", recs)
	}
	_, text := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	if !strings.Contains(text, "nothing to undo") {
		t.Errorf("undo of a failed fix is not refused:\n%s", text)
	}
}

// TestSlackFixBucketUndoRestoresNone: a bucket without a configuration
// gets it deleted again on Undo; every S3 call names the finding's account
// as the bucket owner.
func TestSlackFixBucketUndoRestoresNone(t *testing.T) {
	tc := fixCases[0]
	f := bucketFinding(t)
	srv, owners := newFixFake(t, fixScenario{})
	fx := &actions.Fix{Kind: tc.kind, Clients: fixClientsAt(t, srv), Now: stoppedClock()}
	fl := newFlow(t, srv, actions.Policy{}, map[picket.ActionKind]picket.Responder{tc.kind: fx}, map[picket.ActionKind]actions.Undoer{tc.kind: fx}, f)
	meta, _ := fl.plan("U0ALICE", tc.actionID, f.Key)
	fl.confirm("U0ALICE", meta, nil, true)
	var put awsfake.Call
	for _, c := range fl.aws.Calls() {
		if c.Operation == "PutPublicAccessBlock" {
			put = c
		}
	}
	for _, want := range []string{"<BlockPublicAcls>true</BlockPublicAcls>", "<IgnorePublicAcls>true</IgnorePublicAcls>",
		"<BlockPublicPolicy>true</BlockPublicPolicy>", "<RestrictPublicBuckets>true</RestrictPublicBuckets>"} {
		if !strings.Contains(string(put.Body), want) {
			t.Errorf("PutPublicAccessBlock body lacks %s:\n%s", want, put.Body)
		}
	}
	if put.PathParams["Bucket"] != fixBucket {
		t.Errorf("put on bucket %q, want %q", put.PathParams["Bucket"], fixBucket)
	}
	recs, _ := fl.db.ActionsForFinding(f.Key)
	metaU, _ := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	if got := fl.aws.Operations(); !slices.Equal(got, []string{"s3:DeletePublicAccessBlock", "securityhub:BatchUpdateFindings"}) {
		t.Errorf("undo calls = %v, want the configuration deleted (there was none)", got)
	}
	for i, o := range *owners {
		if o != fixAccount {
			t.Errorf("S3 call %d: expected bucket owner %q, want %s", i, o, fixAccount)
		}
	}
}

// TestSlackFixAccountUndoRestoresRecorded: Undo puts back exactly the
// account settings recorded before the fix.
func TestSlackFixAccountUndoRestoresRecorded(t *testing.T) {
	tc := fixCases[1]
	f := accountBPAFinding(t)
	fl := fixFlow(t, tc, fixScenario{accountBPA: bpaXML(true, true, false, false)}, actions.Guardrails{}, actions.Policy{}, f)
	meta, _ := fl.plan("U0ALICE", tc.actionID, f.Key)
	fl.confirm("U0ALICE", meta, nil, true)
	recs, _ := fl.db.ActionsForFinding(f.Key)
	metaU, _ := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	calls := fl.aws.Calls()
	if len(calls) != 2 || calls[0].Operation != "PutAccountPublicAccessBlock" {
		t.Fatalf("undo calls = %v, want PutAccountPublicAccessBlock then the note", fl.aws.Operations())
	}
	body := string(calls[0].Body)
	for _, want := range []string{"<BlockPublicAcls>true</BlockPublicAcls>", "<IgnorePublicAcls>true</IgnorePublicAcls>",
		"<BlockPublicPolicy>false</BlockPublicPolicy>", "<RestrictPublicBuckets>false</RestrictPublicBuckets>"} {
		if !strings.Contains(body, want) {
			t.Errorf("undo body lacks %s:\n%s", want, body)
		}
	}
	if h := calls[0].Path; h != "/v20180820/configuration/publicAccessBlock" {
		t.Errorf("undo path %q", h)
	}
}

// TestSlackFixRefusesFindingsItDoesNotHandle: a PASSED control finding has
// no button, and a forged click on it (or on another finding) reaches no
// AWS API.
func TestSlackFixRefusesFindingsItDoesNotHandle(t *testing.T) {
	passed := sampleFinding(t, "asff_fsbp_S3.2_RESOLVED_PASSED__asr.json", func(f map[string]any) {
		f["Workflow"] = map[string]any{"Status": "NEW"} // only the compliance status says it passed
	})
	if ids := notifiersButtons(passed); slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "picket.fix_") }) {
		t.Errorf("a PASSED finding offers %v", ids)
	}
	for _, tc := range []struct {
		name string
		f    *picket.Finding
		c    fixCase
	}{
		{"passed", passed, fixCases[0]},
		{"ebs fix on the security group finding", sgFinding(t), fixCases[3]},
		{"security group fix on the EBS finding", ebsFinding(t), fixCases[2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := fixFlow(t, tc.c, fixScenario{}, actions.Guardrails{}, actions.Policy{}, tc.f)
			_, text := fl.plan("U0ALICE", tc.c.actionID, tc.f.Key)
			if !strings.Contains(text, "names no resource") {
				t.Errorf("dialog does not refuse:\n%s", text)
			}
			if ops := fl.aws.Operations(); len(ops) != 0 {
				t.Errorf("AWS calls: %v", ops)
			}
		})
	}
}

// TestSlackFixOverSocketMode runs each fix with the click and the
// confirmation arriving as Socket Mode envelopes.
func TestSlackFixOverSocketMode(t *testing.T) {
	for _, tc := range fixCases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.finding(t)
			fl := fixFlow(t, tc, tc.scenario, actions.Guardrails{}, actions.Policy{}, f)
			send := socketSession(t, fl)
			send("env-click", "interactive", click("U0ALICE", tc.actionID, f.Key))
			var meta string
			waitUntil(t, "the plan dialog", func() bool {
				_, ups, _, _, _ := fl.slack.snapshot()
				if len(ups) == 0 {
					return false
				}
				meta, _ = ups[0]["view"].(map[string]any)["private_metadata"].(string)
				return true
			})
			if got := fl.aws.Operations(); !slices.Equal(got, tc.reads) {
				t.Fatalf("planning calls over Socket Mode: got %v, want %v", got, tc.reads)
			}
			fl.aws.Reset()
			send("env-submit", "interactive", submit("U0ALICE", meta, nil))
			waitUntil(t, "the thread reply", func() bool { _, _, _, posts, _ := fl.slack.snapshot(); return len(posts) >= 1 })
			fl.bot.Wait()
			if got, want := fl.aws.Operations(), cat(tc.reads, tc.writes); !slices.Equal(got, want) {
				t.Fatalf("calls over Socket Mode:\n got %v\nwant %v", got, want)
			}
			recs, _ := fl.db.ActionsForFinding(f.Key)
			if len(recs) != 1 || recs[0].Status != picket.OutcomeSucceeded || recs[0].Request.Actor.ID != "U0ALICE" {
				t.Fatalf("records = %+v, want one succeeded by U0ALICE", recs)
			}
		})
	}
}

// TestFixSavesStateBeforeChanging: the evidence reaches the store before
// the first write, and a record closed by Recover with only that evidence
// (Picket stopped mid-way) can be undone in full.
func TestFixSavesStateBeforeChanging(t *testing.T) {
	tc := fixCases[2]
	f := sgFinding(t)
	srv, _ := newFixFake(t, fixScenario{})
	fx := &actions.Fix{Kind: tc.kind, Clients: fixClientsAt(t, srv), Now: stoppedClock()}
	ctx := context.Background()
	target, _ := picket.FixFor(f, tc.kind, "")
	req := picket.ActionRequest{ID: "act-1", Kind: tc.kind, FindingKey: f.Key, Target: target.Target, Account: f.Account, Region: f.Region,
		Actor: picket.Actor{ID: "U0ALICE"}}
	plan, err := fx.Plan(ctx, req, f)
	if err != nil || plan.Refusal != "" {
		t.Fatalf("plan: %v %q", err, plan.Refusal)
	}
	var saved json.RawMessage
	var opsAtSave []string
	res := fx.ExecuteWith(ctx, plan, f, func(ev json.RawMessage) error {
		saved, opsAtSave = ev, srv.Operations()
		return nil
	})
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Summary)
	}
	if len(saved) == 0 || slices.ContainsFunc(opsAtSave, func(op string) bool { return strings.Contains(op, "Revoke") }) {
		t.Fatalf("evidence saved %d bytes after calls %v, want it saved before any revoke", len(saved), opsAtSave)
	}
	// As Recover leaves it: partial, with the evidence saved before the change.
	rec := picket.ActionRecord{Request: req, Plan: plan, Status: picket.OutcomePartial,
		Result: &picket.ActionResult{Request: req, Outcome: picket.OutcomePartial, Evidence: saved}}
	undo := picket.ActionRequest{ID: "act-2", Kind: picket.ActionUndo, UndoOf: "act-1", FindingKey: f.Key, Account: f.Account, Region: f.Region}
	up, err := fx.PlanUndo(ctx, rec, undo)
	if err != nil || up.Refusal != "" {
		t.Fatalf("plan undo: %v %q", err, up.Refusal)
	}
	n := 0
	for _, s := range up.Steps {
		if s.Operation == "ec2:AuthorizeSecurityGroupIngress" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("undo from the saved evidence re-adds %d rules, want both the fix set out to revoke", n)
	}
	// A refused or failed fix cannot be undone.
	rec.Result.Outcome = picket.OutcomeFailed
	if up, _ := fx.PlanUndo(ctx, rec, undo); up.Refusal == "" {
		t.Error("undo of a failed fix was planned")
	}
}

// TestSlackFixTwoConfirmationsRunOnce: two people confirm the same fix at
// the same moment; the bucket is changed once and the second is told.
func TestSlackFixTwoConfirmationsRunOnce(t *testing.T) {
	tc := fixCases[0]
	f := bucketFinding(t)
	fl := fixFlow(t, tc, tc.scenario, actions.Guardrails{}, actions.Policy{}, f)
	metaA, _ := fl.plan("U0ALICE", tc.actionID, f.Key)
	metaB, _ := fl.plan("U0BOB", tc.actionID, f.Key)
	fl.aws.Reset()
	var wg sync.WaitGroup
	for _, s := range []struct{ user, meta string }{{"U0ALICE", metaA}, {"U0BOB", metaB}} {
		wg.Go(func() { fl.post("/slack/interactions", payloadForm(submit(s.user, s.meta, nil)), time.Now()) })
	}
	wg.Wait()
	waitUntil(t, "both answers", func() bool { _, _, eph, _, _ := fl.slack.snapshot(); return len(eph) >= 2 })
	fl.bot.Wait()
	n := 0
	for _, op := range fl.aws.Operations() {
		if op == "s3:PutPublicAccessBlock" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("PutPublicAccessBlock called %d times, want the fix to run once", n)
	}
	if events := fl.auditEvents(); !slices.Contains(events, "duplicate:U0ALICE:conflict") && !slices.Contains(events, "duplicate:U0BOB:conflict") {
		t.Errorf("audit %v has no duplicate entry for the second confirmation", events)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

func TestReplayDryRunJSON(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"Type":"Notification","Message":"{\"detail-type\":`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PICKET_DATA_DIR": dir, "PICKET_DEFAULT_CHANNEL": "#sec"}
	code, out, errOut := runCLI(t, env, "replay", "--dry-run", "--json",
		"testdata/eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json",
		"testdata/custom_action_2_findings_IAM.6_RDS.4__asr.json", bad)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1 because one input does not decode (stderr %q)", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 3 findings and 1 error:\n%s", len(lines), out)
	}
	for i, l := range lines[:3] {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		for _, k := range []string{"key", "id", "source", "type", "title", "severity", "severity_score", "account", "region", "resources", "channel", "blocks"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %q: %s", i, k, l)
			}
		}
		if m["channel"] != "#sec" {
			t.Errorf("line %d channel = %v, want #sec", i, m["channel"])
		}
	}
	var e map[string]string
	json.Unmarshal([]byte(lines[3]), &e)
	if e["file"] != bad || e["error"] == "" || e["code"] != "invalid" {
		t.Errorf("error line = %v, want file %s, an error and code invalid", e, bad)
	}
	if _, err := os.Stat(filepath.Join(dir, "picket.db")); err == nil {
		t.Error("a dry run created the store")
	}
}

func TestConfigCheck(t *testing.T) {
	secret := "xoxb-very-secret-token-123"
	env := map[string]string{
		"SLACK_BOT_TOKEN": secret, "PICKET_LOG_LEVEL": "loud", "PICKET_QUEUE_URL": "not a url",
		"PICKET_DEFAULT_CHANNEL": "Security Alerts",
	}
	code, out, errOut := runCLI(t, env, "config", "check")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d for a bad config", code, exitUsage)
	}
	for _, want := range []string{"problems", "PICKET_LOG_LEVEL", "PICKET_QUEUE_URL", "PICKET_DEFAULT_CHANNEL", "SLACK_APP_TOKEN"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("problems do not mention %s:\n%s", want, errOut)
		}
	}
	if strings.Contains(out+errOut, secret) {
		t.Fatal("config check printed the bot token")
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("effective config does not show the token as [redacted]:\n%s", out)
	}
	code, _, errOut = runCLI(t, map[string]string{}, "config", "check")
	if code != exitOK {
		t.Fatalf("default config: exit %d, stderr %q", code, errOut)
	}
}

func TestDemo(t *testing.T) {
	code, out, errOut := runCLI(t, map[string]string{}, "demo")
	if code != exitOK {
		t.Fatalf("demo exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"Summary: 6 posted, 6 grouped, 2 updated in place, 1 duplicates ignored, 0 recorded without a post, 1 undecodable, 0 failed.",
		"[Disable user]", "[Quarantine instance]", "#security-critical", "(updated)",
		"group alert to #security-alerts", "6 findings: EC2.19", "Findings 1–6 of 6 in this group", "sg-0demo0000000006",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestRunWithoutSettingsRunsDemo(t *testing.T) {
	code, out, errOut := runCLI(t, map[string]string{}, "run")
	if code != exitOK || !strings.Contains(errOut, "running the demo") || !strings.Contains(out, "Summary:") {
		t.Fatalf("run with no settings: exit %d; stderr %q", code, errOut)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCLI(t, nil, "version"); code != exitOK || !strings.HasPrefix(out, "picket ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
}

// TestReplayHonoursSuppressions: replay without --dry-run runs the same
// pipeline as `picket run`, so a suppression rule in force keeps the
// finding from being posted.
func TestReplayHonoursSuppressions(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.PutSuppression(picket.Suppression{ID: "sup-tor", Type: "UnauthorizedAccess:IAMUser/TorIPCaller",
		Reason: "red team", Until: time.Now().Add(time.Hour), Created: time.Now()})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PICKET_DATA_DIR": dir, "PICKET_LOG_LEVEL": "error"}
	code, out, errOut := runCLI(t, env, "replay", "--json", "testdata/eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json")
	if code != exitOK {
		t.Fatalf("replay: exit %d, stderr %s", code, errOut)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &line); err != nil {
		t.Fatalf("replay output %q: %v", out, err)
	}
	if line["outcome"] != string(picket.OutcomeSuppressed) {
		t.Errorf("outcome = %v, want %s", line["outcome"], picket.OutcomeSuppressed)
	}
}

// TestReplayDryRunJSONProducts: replay prints the facts each product adds,
// and a Security Hub v2 finding has the Key of the same v1 finding.
func TestReplayDryRunJSONProducts(t *testing.T) {
	env := map[string]string{"PICKET_DATA_DIR": t.TempDir(), "PICKET_DEFAULT_CHANNEL": "#sec"}
	code, out, errOut := runCLI(t, env, "replay", "--dry-run", "--json",
		"testdata/eb_Inspector2_Finding_ECR_package_vulnerability__awsdocs-ecr.json",
		"testdata/eb_Macie_Finding_path_with_spaces__picket-wrapped.json",
		"testdata/eb_Access_Analyzer_Finding_1__awsdocs-iam.json",
		"testdata/v2_compliance_fsbp_EC2.7__picket-constructed.json",
		"testdata/imported_fsbp_EC2.7__asr.json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), out)
	}
	var got []map[string]any
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		got = append(got, m)
	}
	for i, want := range []struct{ source, field string }{
		{"inspector", "vulnerabilities"}, {"macie", "data"}, {"access-analyzer", "access"},
	} {
		if got[i]["source"] != want.source || got[i][want.field] == nil {
			t.Errorf("line %d: got source %v and %s %v, want %s with %s", i, got[i]["source"], want.field, got[i][want.field], want.source, want.field)
		}
	}
	if v := got[0]["vulnerabilities"].([]any)[0].(map[string]any); v["id"] != "CVE-2019-17498" {
		t.Errorf("got vulnerability %v, want CVE-2019-17498", v)
	}
	if got[3]["key"] != got[4]["key"] {
		t.Errorf("got Key %v through Security Hub v2 and %v through v1, want the same", got[3]["key"], got[4]["key"])
	}
}

// TestReplayV1ThenV2IsOneMessage: the same GuardDuty finding through
// Security Hub v1 (ASFF) and then v2 (OCSF) is one message: the v2 copy is
// a duplicate, and a later v2 version updates that message in place.
func TestReplayV1ThenV2IsOneMessage(t *testing.T) {
	env := map[string]string{"PICKET_DATA_DIR": t.TempDir(), "PICKET_DEFAULT_CHANNEL": "#sec", "PICKET_LOG_LEVEL": "error"}
	code, out, errOut := runCLI(t, env, "replay", "--json",
		"testdata/asff_guardduty_finding_typical__awsdocs_2021-01.json",
		"testdata/v2_detection_guardduty_SSHBruteForce__picket-constructed.json",
		"testdata/v2_detection_guardduty_SSHBruteForce_later__picket-variant.json")
	if code != exitOK {
		t.Fatalf("replay: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), out)
	}
	var keys, outcomes []any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		keys, outcomes = append(keys, m["key"]), append(outcomes, m["outcome"])
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("got keys %v, want one", keys)
	}
	first := outcomes[0]
	if (first != string(picket.OutcomeQueued) && first != string(picket.OutcomePosted)) ||
		outcomes[1] != string(picket.OutcomeDuplicate) || outcomes[2] != string(picket.OutcomeUpdated) {
		t.Errorf("got outcomes %v, want queued (or posted), duplicate, updated", outcomes)
	}
}

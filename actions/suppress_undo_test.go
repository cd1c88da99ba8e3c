package actions_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/notifiers"
)

func suppressValues(similar bool) map[string]any {
	v := map[string]any{
		"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": "pen test <!channel>"}},
		"expiry": map[string]any{"expiry": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "1d"}}},
	}
	if similar {
		v["similar"] = map[string]any{"similar": map[string]any{"type": "checkboxes", "selected_options": []any{map[string]any{"value": "similar"}}}}
	}
	return v
}

func suppressFlow(t *testing.T, srv *awsfake.Server) (*flow, *actions.Suppress) {
	t.Helper()
	s := &actions.Suppress{Clients: realClientsAt(srv)}
	return newFlow(t, srv, actions.Policy{}, map[picket.ActionKind]picket.Responder{picket.ActionSuppress: s},
		map[picket.ActionKind]actions.Undoer{picket.ActionSuppress: s}, testSecurityHubFinding()), s
}

// suppressAndFindUndo suppresses the Security Hub finding through Slack and
// returns the request id the alert's Undo button carries.
func suppressAndFindUndo(t *testing.T, fl *flow, similar bool) string {
	t.Helper()
	meta, _ := fl.plan("U0ALICE", bot.ActionSuppress, "fk-sh")
	fl.confirm("U0ALICE", meta, suppressValues(similar), true)
	recs, _ := fl.db.ActionsForFinding("fk-sh")
	if len(recs) != 1 || recs[0].Status != picket.OutcomeSucceeded {
		t.Fatalf("records %+v, want one succeeded suppress", recs)
	}
	_, _, _, _, edits := fl.slack.snapshot()
	alert := edits[len(edits)-1].Get("attachments") + edits[len(edits)-1].Get("blocks")
	if !strings.Contains(alert, notifiers.ActionUndo) || !strings.Contains(alert, recs[0].Request.ID) {
		t.Fatalf("the alert offers no Undo for the suppression:\n%s", alert)
	}
	return recs[0].Request.ID
}

func TestSlackSuppressUndo(t *testing.T) {
	t.Run("similar: rule deleted, finding restored, local rule lifted", func(t *testing.T) {
		fl, _ := suppressFlow(t, newSuppressFake(t))
		id := suppressAndFindUndo(t, fl, true)
		metaU, textU := fl.plan("U0BOB", bot.ActionUndo, id)
		for _, want := range []string{"securityhub:BatchDeleteAutomationRules", "back to NEW"} {
			if !strings.Contains(textU, want) {
				t.Errorf("undo plan lacks %q:\n%s", want, textU)
			}
		}
		fl.aws.Reset()
		fl.confirm("U0BOB", metaU, nil, true)
		if got := fl.aws.Operations(); !slices.Equal(got, []string{"securityhub:BatchDeleteAutomationRules", "securityhub:BatchUpdateFindings"}) {
			t.Fatalf("undo calls = %v", got)
		}
		upd := fl.aws.Calls()[1]
		if got := fmt.Sprint(jsonAt(upd.JSON, "Workflow", "Status")); got != "NEW" {
			t.Errorf("workflow restored to %s, want NEW", got)
		}
		sups, _ := fl.db.Suppressions()
		if len(sups) != 1 || sups[0].Lifted.IsZero() {
			t.Fatalf("suppressions %+v, want the local rule lifted", sups)
		}
		orig, _, _ := fl.db.Action(id)
		if orig.UndoneBy == "" {
			t.Error("the suppression is not marked undone")
		}
		_, _, _, _, edits := fl.slack.snapshot()
		alert := edits[len(edits)-1].Get("attachments") + edits[len(edits)-1].Get("blocks")
		if !strings.Contains(alert, "undone by") || strings.Contains(alert, `"value":"`+id+`"`) {
			t.Errorf("the alert should say undone and offer no Undo:\n%s", alert)
		}
		want := []string{"requested:U0ALICE:", "executed:U0ALICE:succeeded", "requested:U0BOB:", "executed:U0BOB:succeeded"}
		if got := fl.auditEvents(); !slices.Equal(got, want) {
			t.Errorf("audit = %v, want %v", got, want)
		}
		// picket audit export carries the undo with its calls.
		var b strings.Builder
		if _, err := fl.db.ExportAudit(&b, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), `"action":"undo"`) || !strings.Contains(b.String(), "securityhub:BatchDeleteAutomationRules") {
			t.Errorf("audit export lacks the undo:\n%s", b.String())
		}
		// A second undo is refused.
		_, text := fl.plan("U0ALICE", bot.ActionUndo, id)
		if !strings.Contains(text, "already undone") {
			t.Errorf("second undo not refused:\n%s", text)
		}
	})
	t.Run("partial failure keeps the rule and says so", func(t *testing.T) {
		srv := newSuppressFake(t)
		fl, _ := suppressFlow(t, srv)
		id := suppressAndFindUndo(t, fl, true)
		srv.On("securityhub", "BatchDeleteAutomationRules", awsfake.Reply(awsfake.JSONError("AccessDeniedException", "not authorized <!channel>")))
		metaU, _ := fl.plan("U0BOB", bot.ActionUndo, id)
		fl.aws.Reset()
		thread, _ := fl.confirm("U0BOB", metaU, nil, true)
		if got := fl.aws.Operations(); !slices.Equal(got, []string{"securityhub:BatchDeleteAutomationRules", "securityhub:BatchUpdateFindings"}) {
			t.Fatalf("undo calls = %v", got)
		}
		reply := thread.Get("attachments") + thread.Get("blocks")
		if !strings.Contains(reply, "AccessDeniedException") || !strings.Contains(reply, "only in part") || strings.Contains(reply, "<!channel>") {
			t.Errorf("reply should name the failure, escaped:\n%s", reply)
		}
		sups, _ := fl.db.Suppressions()
		if len(sups) != 1 || !sups[0].Lifted.IsZero() {
			t.Errorf("suppressions %+v, want the local rule still in force (its expiry retries)", sups)
		}
		recs, _ := fl.db.ActionsForFinding("fk-sh")
		if last := recs[len(recs)-1]; last.Status != picket.OutcomePartial {
			t.Errorf("undo status %s, want partial", last.Status)
		}
	})
	t.Run("dry run changes nothing", func(t *testing.T) {
		fl, _ := suppressFlow(t, newSuppressFake(t))
		id := suppressAndFindUndo(t, fl, false)
		metaU, _ := fl.plan("U0BOB", bot.ActionUndo, id)
		fl.aws.Reset()
		fl.confirm("U0BOB", metaU, map[string]any{"dry_run": map[string]any{"dry_run": map[string]any{
			"type": "checkboxes", "selected_options": []any{map[string]any{"value": "dry_run"}}}}}, true)
		if ops := fl.aws.Operations(); len(ops) != 0 {
			t.Errorf("dry-run undo calls = %v, want none", ops)
		}
		sups, _ := fl.db.Suppressions()
		if len(sups) != 1 || !sups[0].Lifted.IsZero() {
			t.Errorf("a dry run lifted the suppression: %+v", sups)
		}
	})
	t.Run("denied", func(t *testing.T) {
		fl, _ := suppressFlow(t, newSuppressFake(t))
		id := suppressAndFindUndo(t, fl, false)
		fl.aws.Reset()
		_, text := fl.plan("U0EVE", bot.ActionUndo, id)
		if !strings.Contains(text, "not allowed") || len(fl.aws.Operations()) != 0 {
			t.Errorf("denied undo: dialog %q, calls %v", text, fl.aws.Operations())
		}
	})
}

// TestSuppressOneFindingExpires: a suppression of one finding takes the
// dialog's expiry; when it passes, the sweep restores the finding in
// Security Hub and says so in the thread; Undo is then refused.
func TestSuppressOneFindingExpires(t *testing.T) {
	srv := newSuppressFake(t)
	fl, s := suppressFlow(t, srv)
	id := suppressAndFindUndo(t, fl, false)
	sups, _ := fl.db.Suppressions()
	if len(sups) != 1 || !sups[0].OneFinding || sups[0].Until.IsZero() || sups[0].RequestID != id {
		t.Fatalf("suppressions %+v, want one record of the one finding with the chosen expiry", sups)
	}
	if until := sups[0].Until; until.Sub(time.Now()) < 23*time.Hour || until.Sub(time.Now()) > 25*time.Hour {
		t.Errorf("expiry %s, want a day from now (the dialog's choice)", until)
	}

	// The sweep before the expiry does nothing; after it restores.
	later := sups[0].Until.Add(time.Minute)
	svc := func(now time.Time) *actions.Service {
		sv, err := actions.NewService(actions.ServiceOptions{
			Responders: map[picket.ActionKind]picket.Responder{picket.ActionSuppress: s}, Lifter: s,
			Findings: fl.db, Actions: fl.db, Suppressions: fl.db, Audit: fl.db,
			Announcer: notifiers.DialSlack("xoxb-test", fl.slack.srv.GetAPIURL(), notifiers.SlackOptions{PerChannelInterval: -1}),
			Now:       func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		return sv
	}
	fl.aws.Reset()
	if _, n := svc(time.Now()).Sweep(context.Background()); n != 0 || len(fl.aws.Operations()) != 0 {
		t.Fatalf("sweep before the expiry lifted %d, calls %v", n, fl.aws.Operations())
	}
	_, _, _, posts0, _ := fl.slack.snapshot()
	if _, n := svc(later).Sweep(context.Background()); n != 1 {
		t.Fatalf("sweep after the expiry lifted %d, want 1", n)
	}
	if got := fl.aws.Operations(); !slices.Equal(got, []string{"securityhub:BatchUpdateFindings"}) {
		t.Fatalf("restore calls = %v", got)
	}
	if got := fmt.Sprint(jsonAt(fl.aws.Calls()[0].JSON, "Workflow", "Status")); got != "NEW" {
		t.Errorf("workflow restored to %s, want NEW", got)
	}
	_, _, _, posts, _ := fl.slack.snapshot()
	if len(posts) <= len(posts0) || !strings.Contains(posts[len(posts)-1].Get("attachments")+posts[len(posts)-1].Get("blocks"), "restored the finding") {
		t.Errorf("the thread was not told the finding was restored")
	}
	// A second sweep does nothing more.
	fl.aws.Reset()
	if _, n := svc(later.Add(time.Hour)).Sweep(context.Background()); n != 0 || len(fl.aws.Operations()) != 0 {
		t.Errorf("second sweep lifted %d, calls %v", n, fl.aws.Operations())
	}
	// Nothing is left to undo.
	_, text := fl.plan("U0BOB", bot.ActionUndo, id)
	if !strings.Contains(text, "already lifted") {
		t.Errorf("undo after the expiry not refused:\n%s", text)
	}
	es, _ := fl.db.RecentAudit(20)
	if !slices.ContainsFunc(es, func(e picket.AuditEntry) bool {
		return e.Event == "lifted" && e.Outcome == string(picket.OutcomeSucceeded) && len(e.Calls) == 1
	}) {
		t.Errorf("audit has no lifted entry with the restore call")
	}
}

// TestSlackPatchAndUndoOverSocketMode delivers the clicks and dialogs of
// Patch instance and of an Undo of Suppress as Socket Mode envelopes.
func TestSlackPatchAndUndoOverSocketMode(t *testing.T) {
	t.Run("patch", func(t *testing.T) {
		fl, _ := patchFlow(t, newPatchFake(t, patchScenario{}), actions.Policy{}, nil, context.Background())
		send := socketSession(t, fl)
		send("env-click", "interactive", click("U0ALICE", bot.ActionPatchInstance, "fk-p"))
		var meta string
		waitUntil(t, "the plan dialog", func() bool {
			_, ups, _, _, _ := fl.slack.snapshot()
			if len(ups) == 0 {
				return false
			}
			meta, _ = ups[0]["view"].(map[string]any)["private_metadata"].(string)
			return true
		})
		fl.aws.Reset()
		send("env-submit", "interactive", submit("U0ALICE", meta, rebootChoice("RebootIfNeeded")))
		rec := waitPatch(t, fl)
		want := append(slices.Clone(patchReads), "ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:GetCommandInvocation", "ssm:GetCommandInvocation")
		if got := fl.aws.Operations(); !slices.Equal(got, want) || rec.Status != picket.OutcomeSucceeded {
			t.Fatalf("calls %v (status %s), want %v", got, rec.Status, want)
		}
		if p := fl.aws.Calls()[2].Param("Parameters"); !strings.Contains(p, `"RebootOption":["RebootIfNeeded"]`) {
			t.Errorf("parameters %s, want RebootIfNeeded", p)
		}
	})
	t.Run("undo suppress", func(t *testing.T) {
		fl, _ := suppressFlow(t, newSuppressFake(t))
		id := suppressAndFindUndo(t, fl, true)
		send := socketSession(t, fl)
		_, ups0, _, _, _ := fl.slack.snapshot()
		send("env-undo", "interactive", click("U0BOB", bot.ActionUndo, id))
		var meta string
		waitUntil(t, "the undo dialog", func() bool {
			_, ups, _, _, _ := fl.slack.snapshot()
			if len(ups) <= len(ups0) {
				return false
			}
			meta, _ = ups[len(ups)-1]["view"].(map[string]any)["private_metadata"].(string)
			return true
		})
		fl.aws.Reset()
		send("env-undo-submit", "interactive", submit("U0BOB", meta, nil))
		waitUntil(t, "the undo", func() bool { o, _, _ := fl.db.Action(id); return o.UndoneBy != "" })
		fl.bot.Wait()
		if got := fl.aws.Operations(); !slices.Equal(got, []string{"securityhub:BatchDeleteAutomationRules", "securityhub:BatchUpdateFindings"}) {
			t.Fatalf("undo calls over Socket Mode = %v", got)
		}
	})
}

// TestSlackSuppressUndoGuardDuty: the Undo of a Suppress similar of a
// GuardDuty finding deletes the filter, then unarchives the finding in
// GuardDuty and sets it back in Security Hub.
func TestSlackSuppressUndoGuardDuty(t *testing.T) {
	srv := newSuppressFake(t)
	srv.OnREST("guardduty", "UnarchiveFindings", "POST", "/detector/{DetectorId}/findings/unarchive",
		awsfake.Reply(awsfake.JSONBody(map[string]any{})))
	s := &actions.Suppress{Clients: realClientsAt(srv)}
	f := testGuardDutyFinding(true)
	f.WorkflowStatus = "NOTIFIED"
	fl := newFlow(t, srv, actions.Policy{}, map[picket.ActionKind]picket.Responder{picket.ActionSuppress: s},
		map[picket.ActionKind]actions.Undoer{picket.ActionSuppress: s}, f)
	meta, _ := fl.plan("U0ALICE", bot.ActionSuppress, "fk-gd")
	fl.confirm("U0ALICE", meta, suppressValues(true), true)
	if got := writes(fl.aws.Operations()); !slices.Equal(got, []string{"guardduty:ArchiveFindings", "guardduty:CreateFilter", "securityhub:BatchUpdateFindings"}) {
		t.Fatalf("suppress writes = %v", got)
	}
	recs, _ := fl.db.ActionsForFinding("fk-gd")
	metaU, _ := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	want := []string{"guardduty:DeleteFilter", "guardduty:UnarchiveFindings", "securityhub:BatchUpdateFindings"}
	if got := fl.aws.Operations(); !slices.Equal(got, want) {
		t.Fatalf("undo calls = %v, want %v", got, want)
	}
	calls := fl.aws.Calls()
	if calls[0].PathParams["FilterName"] == "" || calls[1].Param("findingIds") != `["gd-7"]` || calls[1].PathParams["DetectorId"] != sDetector {
		t.Errorf("undo deleted filter %q and unarchived %s in %q", calls[0].PathParams["FilterName"], calls[1].Param("findingIds"), calls[1].PathParams["DetectorId"])
	}
	if got := fmt.Sprint(jsonAt(calls[2].JSON, "Workflow", "Status")); got != "NOTIFIED" {
		t.Errorf("workflow restored to %s, want NOTIFIED (its status before)", got)
	}
	sups, _ := fl.db.Suppressions()
	if len(sups) != 1 || sups[0].Lifted.IsZero() {
		t.Errorf("suppressions %+v, want the local rule lifted", sups)
	}
}

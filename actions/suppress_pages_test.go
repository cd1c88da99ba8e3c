package actions_test

import (
	"slices"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/awsfake"
)

// TestSuppressReadsEveryPageOfAccessFindings: the analyzer filters page by
// page, so a first page with no finding but a next token is not "no
// active finding": Suppress reads on and archives what the later pages
// hold, and an answer whose next token never ends does not hold it.
func TestSuppressReadsEveryPageOfAccessFindings(t *testing.T) {
	srv := newSuppressFake(t)
	srv.OnREST("access-analyzer", "ListFindings", "POST", "/finding", func(r *awsfake.Request) awsfake.Response {
		switch r.JSON["nextToken"] {
		case nil:
			return awsfake.JSONBody(map[string]any{"findings": []any{}, "nextToken": "p2"})
		case "p2":
			return awsfake.JSONBody(map[string]any{"findings": []any{map[string]any{"id": "aa-3"}}})
		}
		return awsfake.JSONBody(map[string]any{"findings": []any{}})
	})
	srv.OnREST("access-analyzer", "UpdateFindings", "PUT", "/finding", awsfake.Reply(awsfake.JSONBody(map[string]any{})))
	f := testAccessFindingInSecurityHub()
	_, res, calls := runSuppress(t, srv, testSuppressRequest(f, false, false), f)
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("outcome = %s, want succeeded; steps %v", res.Outcome, stepStatuses(res.Steps))
	}
	if n := len(callsOf(calls, "access-analyzer:ListFindings")); n != 2 {
		t.Errorf("ListFindings calls = %d, want 2 (both pages)", n)
	}
	u := callsOf(calls, "access-analyzer:UpdateFindings")
	if len(u) != 1 || jsonAt(u[0].JSON, "ids", 0) != "aa-3" || jsonAt(u[0].JSON, "ids", 1) != nil {
		t.Fatalf("UpdateFindings = %v, want aa-3 (from the second page) archived", u)
	}

	srv = newSuppressFake(t)
	srv.OnREST("access-analyzer", "ListFindings", "POST", "/finding",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"findings": []any{}, "nextToken": "again"})))
	_, _, calls = runSuppress(t, srv, testSuppressRequest(f, false, false), f)
	if n := len(callsOf(calls, "access-analyzer:ListFindings")); n == 0 || n > 20 {
		t.Errorf("ListFindings calls with an endless next token = %d, want between 1 and 20", n)
	}
	if got := awsOps(calls); slices.Contains(got, "access-analyzer:UpdateFindings") {
		t.Errorf("operations %v: nothing was listed, so nothing may be archived", got)
	}
}

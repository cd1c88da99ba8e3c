package main

import (
	"context"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

type fixedPosture struct{ results []picket.CheckResult }

func (f fixedPosture) Check(_ context.Context, account string, _ []string) (picket.PostureReport, error) {
	return picket.PostureReport{Account: account, Results: f.results}, nil
}

func TestScoredCheckerRecordsFullRuns(t *testing.T) {
	c := &scoredChecker{PostureChecker: fixedPosture{results: []picket.CheckResult{
		{ID: "a", Status: picket.CheckPass}, {ID: "b", Status: picket.CheckFail}, {ID: "c", Status: picket.CheckPass}, {ID: "d", Status: picket.CheckPass},
	}}}
	var reg metrics.Registry
	c.register(&reg)
	if _, err := c.Check(context.Background(), "111122223333", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(context.Background(), "444455556666", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := `picket_posture_score_percent{account="111122223333"} 75`; !strings.Contains(b.String(), want) {
		t.Errorf("got\n%s\nwant a line %q", b.String(), want)
	}
	if strings.Contains(b.String(), "444455556666") {
		t.Errorf("got a score for a partial run:\n%s", b.String())
	}
}

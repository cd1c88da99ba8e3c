package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/internal/dynalite"
)

// crashing lets the first `writes` writes through and fails every call
// after them, as a process killed at that point would stop.
type crashing struct {
	dynamo.API
	writes atomic.Int64
	dead   atomic.Bool
}

var errCrashed = errors.New("process killed")

func (c *crashing) write() error {
	if c.dead.Load() || c.writes.Add(-1) < 0 {
		c.dead.Store(true)
		return errCrashed
	}
	return nil
}

func (c *crashing) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if c.dead.Load() {
		return nil, errCrashed
	}
	return c.API.GetItem(ctx, in, o...)
}

func (c *crashing) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if c.dead.Load() {
		return nil, errCrashed
	}
	return c.API.Query(ctx, in, o...)
}

func (c *crashing) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := c.write(); err != nil {
		return nil, err
	}
	return c.API.PutItem(ctx, in, o...)
}

func (c *crashing) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := c.write(); err != nil {
		return nil, err
	}
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *crashing) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := c.write(); err != nil {
		return nil, err
	}
	return c.API.DeleteItem(ctx, in, o...)
}

// TestIntakeCrashSafe kills intake after each of its writes in turn (a
// message with a new finding and an update of a shown one), then delivers
// the message again to a fresh process, as SQS would since it was never
// deleted: every finding ends up stored at its newest version with exactly
// one outbox entry, and the message is marked done. Nothing is lost and
// nothing is queued twice, wherever the crash fell.
func TestIntakeCrashSafe(t *testing.T) {
	srv := dynalite.Shared(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	decide := func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
		if found && !f.UpdatedAt.After(prev.Finding.UpdatedAt) {
			return prev, picket.OutcomeDuplicate, false
		}
		rec := prev
		rec.Finding, rec.Route = *f, picket.Route{Channel: "#sec"}
		return rec, picket.OutcomeQueued, true
	}
	findings := []picket.Finding{
		{Key: "new", ID: "id-new", Severity: picket.SeverityHigh, UpdatedAt: t0},
		{Key: "shown", ID: "id-shown", Severity: picket.SeverityHigh, UpdatedAt: t0.Add(time.Hour)},
	}
	for crashAfter := 0; ; crashAfter++ {
		table := srv.Table(t)
		healthy, err := dynamo.New(srv.Client(), dynamo.Options{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		// "shown" was posted earlier: its alert is on a message.
		if _, err := healthy.Intake("m0", t0, []picket.Finding{{Key: "shown", ID: "id-shown", Severity: picket.SeverityLow, UpdatedAt: t0}}, decide); err != nil {
			t.Fatal(err)
		}
		out, _ := healthy.Outbox()
		if err := healthy.AlertPosted("", "shown", out[0].Seq, picket.MessageRef{Channel: "C1", TS: "1.1"}); err != nil {
			t.Fatal(err)
		}

		api := &crashing{API: srv.Client()}
		api.writes.Store(int64(crashAfter))
		dying, err := dynamo.New(api, dynamo.Options{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		_, err = dying.Intake("m1", t0, findings, decide)
		if err == nil {
			if crashAfter == 0 {
				t.Fatal("intake wrote nothing")
			}
			t.Logf("intake makes %d writes; crashed after each of them", crashAfter)
			return
		}
		t.Run(fmt.Sprintf("crash after %d writes", crashAfter), func(t *testing.T) {
			if !errors.Is(err, errCrashed) {
				t.Fatalf("got %v, want the crash", err)
			}
			if _, err := healthy.Intake("m1", t0, findings, decide); err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			if done, err := healthy.MessageDone("m1"); err != nil || !done {
				t.Errorf("message after redelivery: done %v %v, want true", done, err)
			}
			out, err := healthy.Outbox()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, p := range out {
				seen[p.Key]++
			}
			for _, f := range findings {
				rec, ok, err := healthy.Finding(f.Key)
				if err != nil || !ok || !rec.Finding.UpdatedAt.Equal(f.UpdatedAt) || rec.Finding.Severity != f.Severity {
					t.Errorf("%s: got %+v %v %v, want its newest version stored", f.Key, rec.Finding, ok, err)
				}
				if seen[f.Key] != 1 {
					t.Errorf("%s: got %d outbox entries, want exactly 1", f.Key, seen[f.Key])
				}
			}
			if rec, _, _ := healthy.Finding("shown"); rec.Ref.TS != "1.1" {
				t.Errorf("shown: lost its message ref %+v", rec.Ref)
			}
		})
	}
}

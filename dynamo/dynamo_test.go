package dynamo_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/internal/dynalite"
)

// counting wraps the client and counts the calls made through it.
type counting struct {
	dynamo.API
	calls atomic.Int64
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.calls.Add(1)
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	return c.API.Query(ctx, in, o...)
}

// TestMessageExpiryHonoured: DynamoDB deletes expired items only
// eventually, so a processed-message mark past its TTL must read as absent
// while it is still in the table.
func TestMessageExpiryHonoured(t *testing.T) {
	srv := dynalite.Shared(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: srv.Table(t), Now: clock, MessageTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMessageDone("m1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after time.Duration
		want  bool
	}{{0, true}, {59 * time.Minute, true}, {time.Hour, false}, {2 * time.Hour, false}} {
		now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(tt.after)
		if got, err := s.MessageDone("m1"); err != nil || got != tt.want {
			t.Errorf("after %s: got %v %v, want %v", tt.after, got, err, tt.want)
		}
	}
	// An expired mark no longer stops intake: the message is handled
	// again (its findings dedup by version).
	res, err := s.Intake("m1", now, nil, nil)
	if err != nil || res.AlreadyDone {
		t.Errorf("intake of an expired mark: got %+v %v, want it handled again", res, err)
	}
}

// TestNewRefusesMissingTable: a client and a table are required.
func TestNewRefusesMissingTable(t *testing.T) {
	if _, err := dynamo.New(nil, dynamo.Options{Table: "x"}); err == nil {
		t.Error("nil client: got nil error")
	}
	srv := dynalite.Shared(t)
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: "no-such-table"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping of a missing table: got nil, want an error")
	}
}

func decide(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
	rec := prev
	rec.Finding, rec.Route = *f, picket.Route{Channel: "#sec"}
	rec.Deliveries++
	return rec, picket.OutcomeQueued, true
}

// BenchmarkIntake measures findings/s through Intake on dynalite, one
// finding per queue message as SQS delivers them, with 8 concurrent
// callers (ingest's workers), and the DynamoDB calls each finding costs.
func BenchmarkIntake(b *testing.B) {
	srv := dynalite.Shared(b)
	api := &counting{API: srv.Client()}
	s, err := dynamo.New(api, dynamo.Options{Table: srv.Table(b)})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	const workers = 8
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				f := picket.Finding{Key: fmt.Sprintf("k%d", i), ID: fmt.Sprintf("id%d", i), Severity: picket.SeverityHigh,
					Type: "T", Account: "111122223333", UpdatedAt: time.Now()}
				if _, err := s.Intake(fmt.Sprintf("m%d", i), time.Time{}, []picket.Finding{f}, decide); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "findings/s")
	b.ReportMetric(float64(api.calls.Load())/float64(b.N), "calls/finding")
}

package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/fauxqs"
)

const waitLong = 30 * time.Second

func TestConsumerHandlesAndDeletesEveryFinding(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	tests := []struct {
		name string
		raw  bool
	}{
		{"sns envelope", false},
		{"raw delivery", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, emu, fmt.Sprintf("findings-%d", i), rigConfig{now: func() time.Time { return clock }})
			topic := emu.CreateTopicSubscribedTo(ctx, fmt.Sprintf("guardduty-%d", i), r.queueURL, tt.raw)
			var ids []string
			for n := range 5 {
				id := fmt.Sprintf("gd-%d-%d", i, n)
				ids = append(ids, id)
				emu.Publish(ctx, topic, guardDutyEvent(t, id))
			}
			r.start()

			eventually(t, waitLong, "all 5 messages are deleted", func() bool { return r.metrics.Deleted.Value() == 5 })
			if err := r.stop(); err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}

			for _, id := range ids {
				if got := r.handler.callsFor(id); got != 1 {
					t.Errorf("finding %s: got %d handler calls, want 1", id, got)
				}
			}
			if visible, inFlight := r.count(); visible != 0 || inFlight != 0 {
				t.Errorf("queue: got %d visible, %d in flight, want 0, 0", visible, inFlight)
			}
			if got := r.store.marked(); got != 5 {
				t.Errorf("got %d messages marked done, want 5", got)
			}
			checkMarkedBeforeDeleted(t, r.events)
			for name, got := range map[string]int64{
				"Received":    r.metrics.Received.Value(),
				"Decoded":     r.metrics.Decoded.Value(),
				"Undecodable": r.metrics.Undecodable.Value(),
				"Failed":      r.metrics.Failed.Value(),
			} {
				want := int64(5)
				if name == "Undecodable" || name == "Failed" {
					want = 0
				}
				if got != want {
					t.Errorf("metric %s: got %d, want %d", name, got, want)
				}
			}
			if got := r.metrics.Latency.Count(); got != 5 {
				t.Errorf("latency observations: got %d, want 5", got)
			}
			if got := r.consumer.LastMessageAt(); !got.Equal(clock) {
				t.Errorf("LastMessageAt() = %v, want %v", got, clock)
			}
		})
	}
}

func TestConsumerLeavesUndecodableMessageForDLQ(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	r := newRig(t, emu, "poison", rigConfig{maxReceiveCount: 2, retryDelay: time.Second})
	const body = `{"detail-type": "GuardDuty Finding", SENTINEL-SECRET-BODY`
	id := emu.Send(ctx, r.queueURL, body)
	r.start()

	eventually(t, waitLong, "the malformed message is in the DLQ", func() bool {
		visible, _ := emu.Count(ctx, r.dlqURL)
		return visible == 1
	})
	if err := r.stop(); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}

	if got := r.events.count("delete " + id); got != 0 {
		t.Errorf("malformed message deleted %d times, want never", got)
	}
	if got := r.store.marked(); got != 0 {
		t.Errorf("got %d messages marked done, want 0", got)
	}
	if got := r.handler.total(); got != 0 {
		t.Errorf("got %d handler calls, want 0", got)
	}
	if got := r.metrics.Undecodable.Value(); got != 2 {
		t.Errorf("Undecodable: got %d, want 2 (one per receive before redrive)", got)
	}
	if got := r.events.count(fmt.Sprintf("visibility %s 1", id)); got != 2 {
		t.Errorf("retry delay set %d times, want 2", got)
	}
	if got := emu.Drain(ctx, r.dlqURL); len(got) != 1 || got[0] != body {
		t.Errorf("DLQ bodies: got %q, want [%q]", got, body)
	}

	// The log says which message failed and why, never what it held.
	if strings.Contains(r.logs.String(), "SENTINEL-SECRET-BODY") {
		t.Errorf("info-level logs contain the message body:\n%s", r.logs.String())
	}
	var warned []int
	for _, rec := range r.logs.records(t) {
		if rec["message_id"] != id || rec["level"] != "WARN" || !strings.Contains(fmt.Sprint(rec["msg"]), "decoded") {
			continue
		}
		if rec["code"] != picket.EINVALID {
			t.Errorf("log code: got %v, want %q", rec["code"], picket.EINVALID)
		}
		if reason, _ := rec["reason"].(string); !strings.Contains(reason, "not JSON") {
			t.Errorf("log reason: got %q, want it to say the body is not JSON", reason)
		}
		count, _ := rec["receive_count"].(float64)
		warned = append(warned, int(count))
	}
	if fmt.Sprint(warned) != "[1 2]" {
		t.Errorf("undecodable warnings by receive count: got %v, want [1 2]", warned)
	}
}

func TestConsumerKeepsHandledMessageInFlight(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	r := newRig(t, emu, "blocking", rigConfig{})
	entered := make(chan struct{})
	release := make(chan struct{})
	r.handler.hook = func(ctx context.Context, f *picket.Finding, call int) error {
		if f.ID == "slow" {
			close(entered)
			<-release
		}
		return nil
	}
	slowID := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "slow"))
	r.start()
	waitFor(t, entered, waitLong, "the handler is called")

	if visible, inFlight := r.count(); visible != 0 || inFlight != 1 {
		t.Errorf("while handling: got %d visible, %d in flight, want 0, 1", visible, inFlight)
	}
	if got := r.store.marked(); got != 0 {
		t.Errorf("while handling: got %d messages marked done, want 0", got)
	}

	// Other workers go on while one is blocked.
	fastID := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "fast"))
	eventually(t, waitLong, "the second message is deleted", func() bool { return r.events.count("delete "+fastID) == 1 })
	if got := r.events.count("delete " + slowID); got != 0 {
		t.Errorf("blocked message deleted %d times while its handler runs, want 0", got)
	}

	close(release)
	eventually(t, waitLong, "the blocked message is deleted", func() bool { return r.events.count("delete "+slowID) == 1 })
	checkMarkedBeforeDeleted(t, r.events)
	if visible, inFlight := r.count(); visible != 0 || inFlight != 0 {
		t.Errorf("after handling: got %d visible, %d in flight, want 0, 0", visible, inFlight)
	}
}

func TestConsumerExtendsVisibilityOfSlowMessage(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	const visibility = 2 * time.Second
	r := newRig(t, emu, "heartbeat", rigConfig{visibility: visibility})
	entered := make(chan struct{})
	release := make(chan struct{})
	r.handler.hook = func(ctx context.Context, f *picket.Finding, call int) error {
		if call == 1 {
			close(entered)
		}
		<-release
		return nil
	}
	id := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "slow"))
	r.start()
	waitFor(t, entered, waitLong, "the handler is called")

	// Outlast the visibility timeout twice over while three idle workers
	// long-poll the queue: without extensions they would receive it again.
	time.Sleep(2*visibility + visibility/2)
	close(release)
	eventually(t, waitLong, "the message is deleted", func() bool { return r.events.count("delete "+id) == 1 })

	if got := r.handler.callsFor("slow"); got != 1 {
		t.Errorf("got %d handler calls, want 1", got)
	}
	if got := r.events.count("receive " + id); got != 1 {
		t.Errorf("message received %d times, want 1", got)
	}
	if got := r.events.count(fmt.Sprintf("visibility %s 2", id)); got < 2 {
		t.Errorf("visibility extended %d times, want at least 2", got)
	}
}

func TestConsumerRedeliversAfterHandlerFailure(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	r := newRig(t, emu, "failing", rigConfig{})
	r.handler.hook = func(ctx context.Context, f *picket.Finding, call int) error {
		if call == 1 {
			return picket.Errorf(picket.EUNAVAILABLE, "Slack is unavailable")
		}
		return nil
	}
	id := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "flaky"))
	r.start()

	eventually(t, waitLong, "the message is deleted", func() bool { return r.events.count("delete "+id) == 1 })
	if got := r.handler.callsFor("flaky"); got != 2 {
		t.Errorf("got %d handler calls, want 2", got)
	}
	if got := r.events.count("receive " + id); got != 2 {
		t.Errorf("message received %d times, want 2", got)
	}
	if got := r.metrics.Failed.Value(); got != 1 {
		t.Errorf("Failed: got %d, want 1", got)
	}
	if got := r.events.count("mark " + id); got != 1 {
		t.Errorf("message marked done %d times, want 1", got)
	}
	checkMarkedBeforeDeleted(t, r.events)
}

func TestConsumerDeletesAlreadyHandledMessage(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	r := newRig(t, emu, "redelivered", rigConfig{})
	id := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "done-before"))
	committed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := r.store.MarkMessageDone(id, committed); err != nil {
		t.Fatal(err)
	}
	r.start()

	eventually(t, waitLong, "the message is deleted", func() bool { return r.events.count("delete "+id) == 1 })
	if got := r.handler.total(); got != 0 {
		t.Errorf("got %d handler calls, want 0", got)
	}
	if got := r.metrics.Decoded.Value(); got != 0 {
		t.Errorf("Decoded: got %d, want 0", got)
	}
	if got := r.events.count("mark " + id); got != 1 {
		t.Errorf("message marked done %d times, want only the earlier 1", got)
	}
	if visible, inFlight := r.count(); visible != 0 || inFlight != 0 {
		t.Errorf("queue: got %d visible, %d in flight, want 0, 0", visible, inFlight)
	}
}

func TestRunFinishesMessageInProgressOnShutdown(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	r := newRig(t, emu, "shutdown", rigConfig{workers: 1})
	entered := make(chan struct{})
	release := make(chan struct{})
	var handlerCtxErr atomic.Value
	r.handler.hook = func(ctx context.Context, f *picket.Finding, call int) error {
		if f.ID == "in-progress" {
			close(entered)
			<-release
			handlerCtxErr.Store(fmt.Sprint(ctx.Err()))
		}
		return nil
	}
	inProgress := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "in-progress"))
	r.start()
	waitFor(t, entered, waitLong, "the handler is called")
	// With the only worker busy, the next message is received and waits.
	waiting := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "waiting"))
	eventually(t, waitLong, "the second message is received", func() bool { return r.events.count("receive "+waiting) == 1 })

	r.cancel()
	select {
	case err := <-r.runErr:
		t.Fatalf("Run returned %v while a handler was still running", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := r.stop(); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}

	if got := handlerCtxErr.Load(); got != "<nil>" {
		t.Errorf("handler context error after shutdown began: got %v, want <nil>", got)
	}
	if got := r.events.count("delete " + inProgress); got != 1 {
		t.Errorf("message in progress deleted %d times, want 1", got)
	}
	checkMarkedBeforeDeleted(t, r.events)
	if got := r.handler.callsFor("waiting"); got != 0 {
		t.Errorf("waiting message: got %d handler calls after shutdown began, want 0", got)
	}
	if got := r.events.count(fmt.Sprintf("visibility %s 0", waiting)); got != 1 {
		t.Errorf("waiting message returned to the queue %d times, want 1", got)
	}
	// The waiting message is back for another consumer. (A long poll cut
	// short by the shutdown may still take it, in fauxqs as in SQS, so it
	// can take one visibility timeout to reappear.)
	var bodies []string
	eventually(t, waitLong, "the waiting message can be received again", func() bool {
		bodies = append(bodies, emu.Drain(ctx, r.queueURL)...)
		return len(bodies) > 0
	})
	if want := guardDutyEvent(t, "waiting"); len(bodies) != 1 || bodies[0] != want {
		t.Errorf("got bodies %q, want only the waiting message", bodies)
	}
}

func TestRunCancelsWorkWhenShutdownGraceExpires(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	r := newRig(t, emu, "stuck", rigConfig{shutdownGrace: 300 * time.Millisecond})
	entered := make(chan struct{})
	r.handler.hook = func(ctx context.Context, f *picket.Finding, call int) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}
	id := emu.Send(ctx, r.queueURL, guardDutyEvent(t, "stuck"))
	r.start()
	waitFor(t, entered, waitLong, "the handler is called")

	err := r.stop()
	if err == nil || !strings.Contains(err.Error(), "grace") {
		t.Errorf("Run returned %v, want an error saying the grace expired", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("Run returned the context error %v, want its own", err)
	}
	if got := r.events.count("delete " + id); got != 0 {
		t.Errorf("cut-short message deleted %d times, want 0", got)
	}
	if got := r.store.marked(); got != 0 {
		t.Errorf("got %d messages marked done, want 0", got)
	}
}

package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/internal/fauxqs"
)

func TestDepthWatcherFindsTheDLQFromTheRedrivePolicy(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queue, dlq := emu.CreateQueueWithDLQ(ctx, "depth", 3, time.Minute)
	for range 3 {
		emu.Send(ctx, queue, `{}`)
	}
	emu.Send(ctx, dlq, `{}`)
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	w := ingest.NewDepthWatcher(emu.SQS(), ingest.DepthOptions{QueueURL: queue, Now: func() time.Time { return at }})
	got, err := w.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := ingest.Depth{Visible: 3, DLQURL: dlq, DLQVisible: 1, At: at}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if last := w.Last(); last != want {
		t.Errorf("got Last %+v, want %+v", last, want)
	}
}

func TestDepthWatcherUsesTheConfiguredDLQ(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queue, _ := emu.CreateQueueWithDLQ(ctx, "plain", 3, time.Minute)
	other, _ := emu.CreateQueueWithDLQ(ctx, "configured", 3, time.Minute)
	emu.Send(ctx, other, `{}`)
	for _, tc := range []struct {
		name    string
		opts    ingest.DepthOptions
		wantDLQ int
	}{
		{"configured DLQ", ingest.DepthOptions{QueueURL: queue, DLQURL: other}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ingest.NewDepthWatcher(emu.SQS(), tc.opts).Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.DLQVisible != tc.wantDLQ || got.DLQURL != tc.opts.DLQURL {
				t.Errorf("got DLQ %s with %d visible, want %s with %d", got.DLQURL, got.DLQVisible, tc.opts.DLQURL, tc.wantDLQ)
			}
		})
	}
}

func TestConsumerOldestWaitIsTheAgeOfTheOldestMessageReceived(t *testing.T) {
	t.Parallel()
	emu := fauxqs.Start(t)
	ctx := context.Background()
	// The consumer's clock runs 90 seconds ahead: every message it
	// receives has waited at least that long by its clock.
	r := newRig(t, emu, "lag", rigConfig{now: func() time.Time { return time.Now().Add(90 * time.Second) }})
	emu.Send(ctx, r.queueURL, guardDutyEvent(t, "gd-lag-1"))
	r.start()
	eventually(t, waitLong, "the message is received", func() bool { return r.consumer.LastMessageAt() != (time.Time{}) })
	if got := r.consumer.OldestWait(); got < 89*time.Second || got > 120*time.Second {
		t.Errorf("got OldestWait %s, want about 90s", got)
	}
	// Once the queue is drained, an empty receive brings it back to 0.
	eventually(t, waitLong, "the lag falls to zero on an empty receive", func() bool { return r.consumer.OldestWait() == 0 })
}

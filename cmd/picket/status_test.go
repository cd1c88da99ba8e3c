package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket/internal/fauxqs"
	"github.com/picketsec/picket/store"
)

func TestStatusCommand(t *testing.T) {
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queue, dlq := emu.CreateQueueWithDLQ(ctx, "status", 3, time.Minute)
	for range 2 {
		emu.Send(ctx, queue, `{}`)
	}
	emu.Send(ctx, dlq, `{}`)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE picket_queue_oldest_message_age_seconds gauge\npicket_queue_oldest_message_age_seconds 90.2\n")
	}))
	defer bot.Close()
	botAddr := strings.TrimPrefix(bot.URL, "http://")

	tests := []struct {
		name     string
		queueURL string
		addr     string
		lock     bool
		wantCode int
		want     []string
	}{
		{"bot running", queue, botAddr, true, exitOK, []string{
			"queue: 2 waiting, 0 in flight", "dead-letter queue: 1 messages", "oldest message: waited 1m30s when received",
			"outbox: held by the running bot"}},
		{"bot stopped", queue, "127.0.0.1:1", false, exitOK, []string{
			"queue: 2 waiting", "oldest message: unknown: no running bot answered at 127.0.0.1:1", "outbox: empty"}},
		{"no redrive policy", dlq, "127.0.0.1:1", false, exitOK, []string{"queue: 1 waiting", "dead-letter queue: none found"}},
		{"queue unreachable", emu.URL() + "/000000000000/missing", "127.0.0.1:1", false, exitFailure, []string{"queue: unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.lock {
				db, err := store.Open(storePath(dir), store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
			}
			env := map[string]string{"PICKET_QUEUE_URL": tt.queueURL, "AWS_ENDPOINT_URL": emu.URL(), "AWS_REGION": "us-east-1",
				"PICKET_DATA_DIR": dir}
			code, out, errOut := runCLI(t, env, "status", "--addr", tt.addr)
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d; stderr %q", code, tt.wantCode, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("got\n%s\nwant it to contain %q", out, w)
				}
			}
		})
	}
}

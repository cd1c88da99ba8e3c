package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchReplicasConfig is the storm configuration without Slack's pace
// (message_interval 0s), so that what is measured is Picket and its store,
// not the one-post-a-second wait; the Slack server still answers 429 to
// every 7th post.
const benchReplicasConfig = `slack:
  default_channel: "` + stormChannel + `"
  default_min_severity: low
  message_interval: 0s
routes:
  - name: backdoor
    types: ["Backdoor:*"]
    min_severity: high
    channel: "` + incidentChannel + `"
ingest:
  wait_time: 1s
  visibility_timeout: 5s
  reconcile_interval: 0s
enrich:
  enabled: false
`

// dynamoCounter is a reverse proxy in front of dynalite that counts the
// DynamoDB requests (X-Amz-Target) the replicas make.
type dynamoCounter struct {
	url   string
	calls atomic.Int64
	mu    sync.Mutex
	byOp  map[string]int
}

func newDynamoCounter(b *testing.B, target string) *dynamoCounter {
	b.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	c := &dynamoCounter{byOp: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		op = op[strings.LastIndex(op, ".")+1:]
		c.calls.Add(1)
		c.mu.Lock()
		c.byOp[op]++
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	})
	c.url = newLoopbackServer(b, h)
	return c
}

// newLoopbackServer serves h on 127.0.0.1 until the benchmark ends and
// returns its URL.
func newLoopbackServer(b *testing.B, h http.Handler) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// BenchmarkReplicas runs the real binary on a storm of n Low findings (and
// one High) end to end: from the first publish to every finding shown in
// Slack and the queue drained, with 1 and 3 replicas on the DynamoDB
// store (dynalite, one Node process on this machine) and with 1 on bbolt.
// It reports findings/s end to end and to the queue drained, and, on
// DynamoDB, the store round trips per finding: every request the
// replicas made to the table during the run (through a counting proxy),
// their background polling (leases, the shared outbox) included, divided
// by n. Run it with -benchtime 1x.
func BenchmarkReplicas(b *testing.B) {
	const n = 2000
	for _, tc := range []struct {
		name     string
		replicas int
		dynamo   bool
	}{{"dynamodb/replicas=1", 1, true}, {"dynamodb/replicas=3", 3, true}, {"bolt/replicas=1", 1, false}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				name := fmt.Sprintf("picket-bench-replicas-%d-%t", tc.replicas, tc.dynamo)
				var r *replicaRig
				var counter *dynamoCounter
				if tc.dynamo {
					r = newReplicaRig(b, name)
					counter = newDynamoCounter(b, r.dynURL)
					r.dynURL = counter.url
				} else {
					r = &replicaRig{stormRig: newStormRig(b, name)}
				}
				if err := os.WriteFile(r.config, []byte(benchReplicasConfig), 0o600); err != nil {
					b.Fatal(err)
				}
				for i := range tc.replicas {
					if tc.dynamo {
						r.startReplica(fmt.Sprintf("r%d", i))
					} else {
						r.start()
					}
				}
				storm, high, instances := stormEvents(b, n)
				// Let the replicas settle (leases taken) before counting.
				time.Sleep(2 * time.Second)
				var before int64
				if counter != nil {
					before = counter.calls.Load()
				}
				start := time.Now()
				publishAll(b, r.emu, r.topic, storm[:n/2])
				publishAll(b, r.emu, r.topic, []string{high})
				publishAll(b, r.emu, r.topic, storm[n/2:])
				var drained time.Time
				waitForTB(b, "the storm shown and drained", 10*time.Minute, func() bool {
					if drained.IsZero() && r.drained() {
						drained = time.Now()
					}
					per, _ := r.shown()
					return len(per) >= len(instances) && !drained.IsZero()
				})
				done := time.Since(start)
				per, posts := r.shown()
				twice := 0
				for _, c := range per {
					if c > 1 {
						twice++
					}
				}
				for id, c := range posts {
					if c > 1 || id == "" {
						twice++
					}
				}
				b.ReportMetric(float64(n)/done.Seconds(), "findings/s")
				b.ReportMetric(float64(n)/drained.Sub(start).Seconds(), "drained-findings/s")
				b.ReportMetric(float64(twice), "shown-twice")
				if counter != nil {
					calls := counter.calls.Load() - before
					b.ReportMetric(float64(calls)/n, "store-calls/finding")
					counter.mu.Lock()
					b.Logf("DynamoDB requests by operation (whole run): %v", counter.byOp)
					counter.mu.Unlock()
				}
			}
		})
	}
}

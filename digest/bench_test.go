package digest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/digest"
	"github.com/picketsec/picket/store"
)

var errStop = errors.New("stop")

// storeFindings adapts store.DB.Findings to Input.Findings; *errp receives
// the store's error, if any.
func storeFindings(db *store.DB, errp *error) func(func(picket.FindingRecord) bool) {
	return func(yield func(picket.FindingRecord) bool) {
		err := db.FindingSummaries(func(r picket.FindingRecord) error {
			if !yield(r) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			*errp = err
		}
	}
}

// seedStore fills a store in a temporary directory with n findings that
// carry a real GuardDuty finding as Raw, spread over 30 days and every
// severity, about a third closed.
func seedStore(tb testing.TB, n int) *store.DB {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "finding_Canary_EC2_Stateless.IntegTest__aws-samples-gd-response.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(filepath.Join(tb.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	types := []string{"Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:IAMUser/TorIPCaller",
		"CryptoCurrency:EC2/BitcoinTool.B!DNS", "Backdoor:EC2/C&CActivity.B!DNS", "Policy:S3/BucketPublicAccessGranted"}
	const batch = 5000
	recs := make([]picket.FindingRecord, 0, batch)
	for i := range n {
		seen := now.Add(-time.Duration(i%(30*24*60)) * time.Minute)
		r := rec(fmt.Sprintf("%024x", i), picket.Severity(i%5), seen,
			account(fmt.Sprintf("%012d", i%40)), typ(types[i%len(types)]))
		r.Finding.Raw = buf.Bytes()
		r.Finding.Description = "A port probe was detected on an unprotected port of the instance."
		r.Finding.Resources = []picket.Resource{{Kind: picket.ResourceEC2Instance, Type: "Instance", ID: "i-99999999", Region: "us-east-1"}}
		if i%3 == 0 {
			r.Finding.WorkflowStatus = picket.WorkflowResolved
			r.Finding.UpdatedAt = seen.Add(time.Duration(i%600) * time.Minute)
		}
		recs = append(recs, r)
		if len(recs) == batch {
			if err := db.PutFindings(recs); err != nil {
				tb.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := db.PutFindings(recs); err != nil {
		tb.Fatal(err)
	}
	return db
}

// BenchmarkBuild100k builds a digest from a store holding 100,000
// findings, reading them from disk as the scheduler does. peak-heap-MB is
// the largest live heap seen while building (sampled every 5 ms).
func BenchmarkBuild100k(b *testing.B) {
	const n = 100_000
	db := seedStore(b, n)
	var actions []picket.ActionRecord
	for i := range 2000 {
		actions = append(actions, action(fmt.Sprint("r", i), fmt.Sprintf("%024x", i*7), fmt.Sprint("user", i%9),
			now.Add(-time.Duration(i)*time.Minute), picket.OutcomeSucceeded))
	}

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	b.ReportAllocs()
	var d picket.Digest
	for b.Loop() {
		var err error
		d = digest.Build(digest.Input{Name: "daily", Now: now, Findings: storeFindings(db, &err), Actions: actions})
		if err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load())/1e6, "peak-heap-MB")
	if got := d.Open.Total() + d.Activity.Resolved.Total(); got == 0 {
		b.Fatalf("digest of %d findings counted nothing", n)
	}
}

func TestBuildFromStore(t *testing.T) {
	db := seedStore(t, 300)
	var err error
	d := digest.Build(digest.Input{Now: now, Findings: storeFindings(db, &err)})
	if err != nil {
		t.Fatal(err)
	}
	// 300 findings a minute apart, every third resolved: 200 open.
	if got := d.Open.Total(); got != 200 {
		t.Errorf("open findings: got %d, want 200", got)
	}
	if got := d.Activity.New.Total(); got != 299 {
		t.Errorf("new findings: got %d, want 299 (one is at the window's end)", got)
	}
}

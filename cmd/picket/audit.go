package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/store"
)

// cmdAudit implements `picket audit verify` and `picket audit export`.
func cmdAudit(e env, args []string) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(e.stderr, "usage: picket audit verify [--head SEQ:HASH]... | picket audit export [--since TIME]")
		return exitUsage
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	since := fs.String("since", "", "export entries at or after this `time` (RFC 3339, a date 2006-01-02, or a duration ago such as 24h)")
	var heads []exportedHead
	fs.Func("head", "check that the trail still holds the entry of an exported chain head, `SEQ:HASH` as logged (\"audit chain head\"); repeatable", func(s string) error {
		h, err := parseHead(s)
		if err == nil {
			heads = append(heads, h)
		}
		return err
	})
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	var from time.Time
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "picket audit: --since: %v\n", err)
			return exitUsage
		}
		from = t
	}
	// A missing store is a wrong data directory or a lost volume, not an
	// intact trail: never create one here.
	if _, err := os.Stat(storePath(cfg.DataDir)); err != nil && cfg.Store.Backend != config.StoreDynamoDB {
		fmt.Fprintf(e.stderr, "picket audit: no store at %s (%v): check data_dir / PICKET_DATA_DIR; nothing to %s\n",
			storePath(cfg.DataDir), errors.Unwrap(err), args[0])
		return exitFailure
	}
	db, err := openStore(context.Background(), cfg, store.Options{AuditKey: auditKey(cfg)})
	if err != nil {
		fmt.Fprintf(e.stderr, "picket audit: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	if args[0] == "export" {
		if _, err := db.ExportAudit(e.stdout, from); err != nil {
			fmt.Fprintf(e.stderr, "picket audit export: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	c, err := db.VerifyAuditChain()
	if err != nil {
		fmt.Fprintf(e.stderr, "audit trail BROKEN after %d good entries: %v\n", c.Entries, err)
		return exitFailure
	}
	for _, h := range heads {
		if msg := checkHead(db, h); msg != "" {
			fmt.Fprintf(e.stderr, "audit trail BROKEN: %s\n", msg)
			return exitFailure
		}
	}
	if c.Entries == 0 {
		// An empty trail in a store that holds no finding either is a
		// new store (or a replaced one), not a verified trail.
		if n, err := db.CountFindings(); err != nil || n == 0 {
			fmt.Fprintf(e.stderr, "audit trail EMPTY in a new store %s: no finding and no audit entry; is this the right data directory?\n", storeName(cfg))
			return exitFailure
		}
	}
	fmt.Fprintf(e.stdout, "audit trail intact: %d entries, each chained to the one before\n", c.Entries)
	switch {
	case c.Entries == 0:
	case c.Keyed == c.Entries:
		fmt.Fprintf(e.stdout, "every entry is sealed with HMAC-SHA-256 under audit key %s\n", c.Head.KeyID)
	case c.Keyed > 0:
		fmt.Fprintf(e.stdout, "entries 1-%d are sealed with plain SHA-256 (written before the audit key was set; protected by the keyed entries after them); entries %d-%d with HMAC-SHA-256 under audit key %s\n",
			c.FirstKeyed-1, c.FirstKeyed, c.Head.Seq, c.Head.KeyID)
	default:
		fmt.Fprintln(e.stdout, "no audit key: entries are sealed with plain SHA-256, which anyone who can write the data volume can recompute; set PICKET_AUDIT_KEY to seal them with HMAC")
	}
	if c.Entries > 0 {
		fmt.Fprintf(e.stdout, "head: %d:%s (compare with the last \"audit chain head\" Picket logged: a trail cut back to an earlier entry only shows there)\n", c.Head.Seq, c.Head.Hash)
	}
	for _, h := range heads {
		fmt.Fprintf(e.stdout, "exported head %d:%s found in the trail\n", h.seq, h.hash)
	}
	return exitOK
}

// exportedHead is a chain head as logged: sequence number and hash.
type exportedHead struct {
	seq  uint64
	hash string
}

func parseHead(s string) (exportedHead, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || len(hash) != 64 {
		return exportedHead{}, fmt.Errorf("%q is not SEQ:HASH (a positive entry number and a 64-digit hex hash)", s)
	}
	return exportedHead{seq: n, hash: strings.ToLower(hash)}, nil
}

// checkHead returns "" when the trail holds entry h.seq with hash h.hash,
// and otherwise what is wrong.
func checkHead(db picket.Store, h exportedHead) string {
	e, ok, err := db.AuditAt(h.seq)
	switch {
	case err != nil:
		return err.Error()
	case !ok:
		return fmt.Sprintf("entry %d of exported head %d:%s is missing: the trail was cut back", h.seq, h.seq, h.hash)
	case e.Hash != h.hash:
		return fmt.Sprintf("entry %d has hash %s, but the exported head says %s: the trail was rewritten", h.seq, e.Hash, h.hash)
	}
	return ""
}

// auditKey is the configured audit key, nil when none is.
func auditKey(cfg config.Config) []byte {
	if cfg.Audit.Key == "" {
		return nil
	}
	return []byte(cfg.Audit.Key.Reveal())
}

// startAuditHeads makes the trail end with an entry sealed with the audit
// key when one is configured (store.DB.KeyAudit), refusing to start when
// the trail is sealed with another key or needs one that is not
// configured. It then logs the chain head ("audit chain head": seq, hash,
// key id) at once, every `every` (only at start and stop when it is 0)
// and when stopped, so that the head lives on outside the data volume,
// where whoever can rewrite the store cannot reach. `picket audit verify
// --head SEQ:HASH` later checks a logged head against the trail. The
// returned stop function ends the logging and waits for the last line.
func startAuditHeads(ctx context.Context, db picket.Store, every time.Duration, log *slog.Logger) (stop func(), err error) {
	if e, wrote, err := db.KeyAudit(); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	} else if wrote {
		log.Info("audit trail keyed: entries are sealed with HMAC-SHA-256 from here on", "seq", e.Seq, "key_id", e.KeyID)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		logAuditHead(db, log)
		defer logAuditHead(db, log)
		var tick <-chan time.Time
		if every > 0 {
			t := time.NewTicker(every)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				logAuditHead(db, log)
			}
		}
	})
	return func() { cancel(); wg.Wait() }, nil
}

// logAuditHead logs the newest audit entry's sequence number, hash, key id
// and time as one structured line.
func logAuditHead(db picket.Store, log *slog.Logger) {
	h, err := db.AuditHead()
	if err != nil {
		log.Error("read audit chain head", "err", err)
		return
	}
	log.Info("audit chain head", "seq", h.Seq, "hash", h.Hash, "key_id", h.KeyID, "entry_time", h.Time)
}

// parseSince reads an RFC 3339 time, a date, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-11-22T09:00:00Z), a date (2026-11-22) or a duration (24h)", s)
}

package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this code reads and writes. It is
// stored in the meta bucket; a file with a higher version was written by a
// newer Picket and is refused rather than misread.
const SchemaVersion = 2

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = time.Second

// ErrLocked is returned (wrapped) by Open when another process, or another
// open DB in this process, holds the file.
var ErrLocked = errors.New("another process holds it (is another picket running?)")

// ErrSchemaTooNew is returned (wrapped) by Open when the file was written by
// a newer version of Picket.
var ErrSchemaTooNew = errors.New("written by a newer picket")

// Bucket names. Every bucket is created when the file is opened so that
// read transactions never find one missing.
var (
	bucketMeta         = []byte("meta")
	bucketFindings     = []byte("findings")
	bucketFindingIDs   = []byte("finding_ids")
	bucketMessages     = []byte("messages")
	bucketAudit        = []byte("audit")
	bucketSuppressions = []byte("suppressions")
	bucketDigests      = []byte("digests")
	bucketActions      = []byte("actions")
	bucketClaims       = []byte("claims")
	bucketFindingActs  = []byte("finding_actions")
	bucketOutbox       = []byte("outbox")
	bucketGroups       = []byte("groups")
	bucketGroupsOpen   = []byte("groups_open")
	bucketGroupMembers = []byte("group_members")
	bucketPosts        = []byte("posts")
	bucketChannels     = []byte("channels")
	bucketLeases       = []byte("leases")
	bucketPlans        = []byte("plans")
	bucketAutoRuns     = []byte("auto_runs")
	bucketAutoOpen     = []byte("auto_open")
	bucketAuto         = []byte("auto")

	allBuckets = [][]byte{
		bucketMeta, bucketFindings, bucketFindingIDs, bucketMessages,
		bucketAudit, bucketSuppressions, bucketDigests,
		bucketActions, bucketClaims, bucketFindingActs,
		bucketOutbox, bucketGroups, bucketGroupsOpen, bucketGroupMembers, bucketPosts, bucketChannels,
		bucketLeases, bucketPlans,
		bucketAutoRuns, bucketAutoOpen, bucketAuto,
	}

	keySchema    = []byte("schema")
	keyAuditHead = []byte("audit_head")
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout is how long to wait for the file lock; DefaultTimeout when
	// zero.
	Timeout time.Duration
	// Now is the clock, used when a caller passes a zero time; time.Now
	// when nil.
	Now func() time.Time
	// Logger receives operational messages; discarded when nil.
	Logger *slog.Logger
	// AuditKey, when set, seals new audit entries with HMAC-SHA-256 instead
	// of plain SHA-256, and is needed to verify entries sealed with it. It
	// must be kept outside the data directory (see DB.Audit).
	AuditKey []byte
}

// DB is Picket's store. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	now  func() time.Time
	log  *slog.Logger

	// commits feeds the group committer (see committer); commitDone is
	// closed when it has stopped.
	commits    chan *commitCall
	commitDone chan struct{}
	closeOnce  sync.Once

	auditKey   []byte
	auditKeyID string
}

// Open opens (creating if needed) the store at path. The parent directory is
// created with mode 0700 and the file with mode 0600 when missing.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: create directory: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path, now: opts.Now, log: opts.Logger,
		commits: make(chan *commitCall, maxCommitBatch), commitDone: make(chan struct{}),
		auditKey: append([]byte(nil), opts.AuditKey...), auditKeyID: AuditKeyID(opts.AuditKey)}
	created, err := db.init()
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	go db.committer()
	if created {
		db.log.Info("store created", "path", path, "schema", SchemaVersion)
	} else {
		db.log.Debug("store opened", "path", path, "schema", SchemaVersion)
	}
	return db, nil
}

// init checks the schema version and creates every bucket in one
// transaction. It reports whether the file was new.
func (db *DB) init() (created bool, err error) {
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		// Check the version before creating anything, so a newer file is
		// left exactly as it was.
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if v := meta.Get(keySchema); v != nil {
				if len(v) != 8 {
					return fmt.Errorf("read schema version: want 8 bytes, got %d", len(v))
				}
				if got := binary.BigEndian.Uint64(v); got > SchemaVersion {
					return fmt.Errorf("%w: schema version %d, this picket knows up to %d (upgrade picket or use another file)",
						ErrSchemaTooNew, got, SchemaVersion)
				}
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keySchema) == nil {
			created = true
		}
		// Older schemas are migrated here, before the version is raised.
		// Version 2 only added the delivery buckets (outbox, groups,
		// posts), created above; version 1 files need nothing else. A
		// version 1 Picket refuses a version 2 file, so it cannot miss
		// what waits in the outbox.
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, SchemaVersion))
	})
	return created, err
}

// Path returns the file the store was opened from.
func (db *DB) Path() string { return db.path }

// Close releases the file. Calling it again does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.commits)
		<-db.commitDone
	})
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", db.path, err)
	}
	return nil
}

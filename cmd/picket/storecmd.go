package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

// maxItemLine bounds one exported item (a finding with its raw event).
const maxItemLine = 16 << 20

// cmdStore implements `picket store export` (every item of the configured
// store as JSON lines on stdout) and `picket store import` (JSON lines from
// stdin into the configured store, which must be new). Moving a bbolt store
// to DynamoDB is an export with the bolt configuration piped into an
// import with the dynamodb one; `picket audit verify` passes after it,
// because audit entries keep their sealed bytes.
func cmdStore(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprintln(e.stderr, "usage: picket store export [--config FILE] > FILE | picket store import [--config FILE] < FILE")
		return exitUsage
	}
	fs := flag.NewFlagSet("store "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	db, err := openStore(ctx, cfg, store.Options{AuditKey: auditKey(cfg)})
	if err != nil {
		fmt.Fprintf(e.stderr, "picket store %s: %v\n", args[0], err)
		return exitFailure
	}
	defer db.Close()
	if args[0] == "export" {
		n, err := exportStore(db, e.stdout)
		if err != nil {
			fmt.Fprintf(e.stderr, "picket store export: %v (after %d items)\n", err, n)
			return exitFailure
		}
		fmt.Fprintf(e.stderr, "picket store export: %d items from %s\n", n, storeName(cfg))
		return exitOK
	}
	n, err := importStore(db, e.stdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "picket store import: %v (after %d items)\n", err, n)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "picket store import: %d items into %s; check with picket audit verify\n", n, storeName(cfg))
	return exitOK
}

// exportStore writes every item as one JSON line, HTML escaping off so
// that audit entries keep their bytes.
func exportStore(db picket.Store, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int
	err := db.ExportItems(func(it picket.StoreItem) error {
		n++
		return enc.Encode(it)
	})
	if err == nil {
		err = bw.Flush()
	}
	return n, err
}

// importStore reads JSON lines of items into db.
func importStore(db picket.Store, r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxItemLine)
	line := 0
	return db.ImportItems(func() (picket.StoreItem, bool, error) {
		for sc.Scan() {
			line++
			if len(sc.Bytes()) == 0 {
				continue
			}
			var it picket.StoreItem
			if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
				return it, false, fmt.Errorf("line %d: %w", line, err)
			}
			if it.Kind == "" {
				return it, false, fmt.Errorf("line %d: no kind", line)
			}
			if err := it.Check(); err != nil {
				return it, false, fmt.Errorf("line %d: %w", line, err)
			}
			return it, true, nil
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return picket.StoreItem{}, false, fmt.Errorf("line %d: longer than %d bytes", line+1, maxItemLine)
			}
			return picket.StoreItem{}, false, err
		}
		return picket.StoreItem{}, false, nil
	})
}

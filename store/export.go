package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

// ExportItems calls fn for every item in the file, bucket by bucket, in
// one read transaction (see picket.StoreItem for the format).
func (db *DB) ExportItems(fn func(picket.StoreItem) error) error {
	err := db.bolt.View(func(tx *bolt.Tx) error {
		emit := func(kind, key string, v []byte) error {
			return fn(picket.StoreItem{Kind: kind, Key: key, Value: append(json.RawMessage(nil), v...)})
		}
		str := func(s []byte) []byte { b, _ := json.Marshal(string(s)); return b }
		num := func(v []byte) []byte {
			if len(v) != 8 {
				return []byte("0")
			}
			return strconv.AppendInt(nil, int64(binary.BigEndian.Uint64(v)), 10)
		}
		plain := []struct {
			bucket []byte
			kind   string
			value  func([]byte) []byte
		}{
			{bucketFindings, picket.ItemFinding, nil},
			{bucketOutbox, picket.ItemPending, nil},
			{bucketFindingIDs, picket.ItemFindingID, str},
			{bucketMessages, picket.ItemMessage, num},
			{bucketActions, picket.ItemAction, nil},
			{bucketClaims, picket.ItemClaim, str},
			{bucketSuppressions, picket.ItemSuppression, nil},
			{bucketGroups, picket.ItemGroup, nil},
			{bucketGroupsOpen, picket.ItemGroupOpen, func([]byte) []byte { return nil }},
			{bucketPosts, picket.ItemPost, nil},
			{bucketChannels, picket.ItemChannel, str},
			{bucketAutoRuns, picket.ItemAutoRun, nil},
			{bucketAuto, picket.ItemAutoSwitch, nil},
		}
		for _, p := range plain {
			err := tx.Bucket(p.bucket).ForEach(func(k, v []byte) error {
				if p.value != nil {
					v = p.value(v)
				}
				return emit(p.kind, string(k), v)
			})
			if err != nil {
				return err
			}
		}
		err := tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("audit key %x: want 8 bytes", k)
			}
			return emit(picket.ItemAudit, strconv.FormatUint(binary.BigEndian.Uint64(k), 10), v)
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketFindingActs).ForEach(func(k, v []byte) error {
			if len(k) < 9 {
				return fmt.Errorf("finding action key %x: too short", k)
			}
			return emit(picket.ItemFindingAction, string(k[:len(k)-9]), str(v))
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketGroupMembers).ForEach(func(k, v []byte) error {
			if len(k) < 9 {
				return fmt.Errorf("group member key %x: too short", k)
			}
			m, _ := json.Marshal(picket.GroupMember{N: int(binary.BigEndian.Uint64(k[len(k)-8:])), Key: string(v)})
			return emit(picket.ItemGroupMember, string(k[:len(k)-9]), m)
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketDigests).ForEach(func(k, v []byte) error {
			switch {
			case bytes.HasPrefix(k, []byte("snap\x00")) && len(k) > 5+1+len(dayLayout):
				return emit(picket.ItemDigestSnapshot, string(k[5:len(k)-1-len(dayLayout)]), v)
			case bytes.HasPrefix(k, []byte("run\x00")):
				return emit(picket.ItemDigestRun, string(k[4:]), num(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for name, b := range map[string][]byte{"groups": bucketGroups, "outbox": bucketOutbox} {
			if err := emit(picket.ItemCounter, name, strconv.AppendUint(nil, tx.Bucket(b).Sequence(), 10)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("export store %s: %w", db.path, err)
	}
	return nil
}

// importBatch is how many items share one import transaction.
const importBatch = 1000

// ImportItems stores the items next yields into this file, which must
// hold no finding and no audit entry, in transactions of importBatch
// items. The audit head becomes the last entry imported, and the outbox
// and group sequences are raised above every imported Seq and group
// number, so that what Picket writes next sorts after what it imported.
func (db *DB) ImportItems(next func() (picket.StoreItem, bool, error)) (int, error) {
	n, err := db.importItems(next)
	if err != nil {
		return n, fmt.Errorf("import into store %s: %w", db.path, err)
	}
	return n, nil
}

func (db *DB) importItems(next func() (picket.StoreItem, bool, error)) (int, error) {
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketFindings).Cursor().First(); k != nil {
			return picket.ErrStoreNotEmpty
		}
		if k, _ := tx.Bucket(bucketAudit).Cursor().First(); k != nil {
			return picket.ErrStoreNotEmpty
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var (
		n        int
		done     bool
		headSeq  uint64
		headHash string
		outSeq   uint64
		groupSeq uint64
	)
	for !done {
		var batch []picket.StoreItem
		for len(batch) < importBatch {
			it, ok, err := next()
			if err != nil {
				return n, err
			}
			if !ok {
				done = true
				break
			}
			batch = append(batch, it)
		}
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for _, it := range batch {
				if err := importItem(tx, it, &headSeq, &headHash, &outSeq, &groupSeq); err != nil {
					return fmt.Errorf("%s %q: %w", it.Kind, it.Key, err)
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(batch)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if headSeq > 0 {
			if err := tx.Bucket(bucketMeta).Put(keyAuditHead, encodeHead(headSeq, headHash)); err != nil {
				return err
			}
		}
		if err := raiseSequence(tx.Bucket(bucketOutbox), outSeq); err != nil {
			return err
		}
		return raiseSequence(tx.Bucket(bucketGroups), groupSeq)
	})
	return n, err
}

func raiseSequence(b *bolt.Bucket, n uint64) error {
	if b.Sequence() >= n {
		return nil
	}
	return b.SetSequence(n)
}

func importItem(tx *bolt.Tx, it picket.StoreItem, headSeq *uint64, headHash *string, outSeq, groupSeq *uint64) error {
	str := func() ([]byte, error) {
		var s string
		err := json.Unmarshal(it.Value, &s)
		return []byte(s), err
	}
	num := func() ([]byte, error) {
		var v int64
		err := json.Unmarshal(it.Value, &v)
		return binary.BigEndian.AppendUint64(nil, uint64(v)), err
	}
	put := func(b []byte, k, v []byte, err error) error {
		if err != nil {
			return err
		}
		return tx.Bucket(b).Put(k, v)
	}
	k := []byte(it.Key)
	switch it.Kind {
	case picket.ItemFinding:
		return put(bucketFindings, k, it.Value, nil)
	case picket.ItemPending:
		var p picket.Pending
		if err := json.Unmarshal(it.Value, &p); err != nil {
			return err
		}
		*outSeq = max(*outSeq, p.Seq)
		return put(bucketOutbox, k, it.Value, nil)
	case picket.ItemFindingID:
		v, err := str()
		return put(bucketFindingIDs, k, v, err)
	case picket.ItemMessage:
		v, err := num()
		return put(bucketMessages, k, v, err)
	case picket.ItemAction:
		return put(bucketActions, k, it.Value, nil)
	case picket.ItemClaim:
		v, err := str()
		return put(bucketClaims, k, v, err)
	case picket.ItemFindingAction:
		v, err := str()
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketFindingActs)
		seq, err := b.NextSequence()
		return put(bucketFindingActs, binary.BigEndian.AppendUint64(append(k, 0), seq), v, err)
	case picket.ItemSuppression:
		return put(bucketSuppressions, k, it.Value, nil)
	case picket.ItemDigestSnapshot:
		var s picket.DigestSnapshot
		err := json.Unmarshal(it.Value, &s)
		return put(bucketDigests, snapKey(it.Key, s.Day), it.Value, err)
	case picket.ItemDigestRun:
		v, err := num()
		return put(bucketDigests, runKey(it.Key), v, err)
	case picket.ItemGroup:
		if n, err := strconv.ParseUint(strings.TrimPrefix(it.Key, "g"), 10, 64); err == nil {
			*groupSeq = max(*groupSeq, n)
		}
		return put(bucketGroups, k, it.Value, nil)
	case picket.ItemGroupOpen:
		return put(bucketGroupsOpen, k, nil, nil)
	case picket.ItemGroupMember:
		var m picket.GroupMember
		err := json.Unmarshal(it.Value, &m)
		return put(bucketGroupMembers, memberKey(it.Key, m.N), []byte(m.Key), err)
	case picket.ItemPost:
		return put(bucketPosts, k, it.Value, nil)
	case picket.ItemChannel:
		v, err := str()
		return put(bucketChannels, k, v, err)
	case picket.ItemAudit:
		seq, err := strconv.ParseUint(it.Key, 10, 64)
		if err != nil {
			return err
		}
		e, err := decodeAudit(it.Value)
		if err != nil {
			return err
		}
		if seq >= *headSeq {
			*headSeq, *headHash = seq, e.Hash
		}
		return put(bucketAudit, seqKey(seq), it.Value, nil)
	case picket.ItemAutoRun:
		var run picket.AutoRun
		if err := json.Unmarshal(it.Value, &run); err != nil {
			return err
		}
		return putAutoRun(tx, run)
	case picket.ItemAutoSwitch:
		return put(bucketAuto, keyAutoSwitch, it.Value, nil)
	case picket.ItemCounter:
		var v uint64
		if err := json.Unmarshal(it.Value, &v); err != nil {
			return err
		}
		switch it.Key {
		case "groups":
			*groupSeq = max(*groupSeq, v)
		case "outbox":
			*outSeq = max(*outSeq, v)
		}
		return nil
	}
	return picket.Errorf(picket.EINVALID, "unknown kind of item %q", it.Kind)
}

package dynamo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/picketsec/picket"
)

// findingItem is a finding's item as read: the record, its version and
// its outbox entry (nil when it waits for nothing).
type findingItem struct {
	rec     picket.FindingRecord
	ver     int64
	pending *picket.Pending
}

func findingPK(k string) string { return shard("f", k) }

func (s *Store) getFinding(k string) (findingItem, bool, error) {
	it, ok, err := s.get(findingPK(k), k)
	if err != nil || !ok {
		return findingItem{}, false, err
	}
	return decodeFindingItem(it)
}

func decodeFindingItem(it item) (findingItem, bool, error) {
	var fi findingItem
	if err := json.Unmarshal(getB(it, "v"), &fi.rec); err != nil {
		return findingItem{}, false, fmt.Errorf("decode finding %s: %w", getS(it, "sk"), err)
	}
	fi.ver = getN(it, "ver")
	if p := getB(it, "p"); len(p) > 0 {
		fi.pending = new(picket.Pending)
		if err := json.Unmarshal(p, fi.pending); err != nil {
			return findingItem{}, false, fmt.Errorf("decode outbox entry of %s: %w", getS(it, "sk"), err)
		}
	}
	return fi, true, nil
}

// putFindingItem writes fi as version fi.ver+1, on condition that the
// stored version is still fi.ver (absent when found is false).
func (s *Store) putFindingItem(fi findingItem, found bool) error {
	k := fi.rec.Finding.Key
	if k == "" {
		return picket.Errorf(picket.EINVALID, "finding %q has no key", fi.rec.Finding.ID)
	}
	v, err := encodeRecord(fi.rec)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	it := item{"pk": attrS(findingPK(k)), "sk": attrS(k), "v": attrB(v), "ver": attrN(fi.ver + 1)}
	if fi.pending != nil {
		p, err := json.Marshal(fi.pending)
		if err != nil {
			return err
		}
		it["p"] = attrB(p)
	}
	c := &cond{expr: "attribute_not_exists(pk)"}
	if found {
		c = &cond{expr: "ver = :ver", values: item{":ver": attrN(fi.ver)}}
	}
	return s.put(it, c)
}

// indexID points the source id at the finding; old ids are kept, as both
// the GuardDuty id and the ASFF Id find a finding seen through both.
func (s *Store) indexID(rec *picket.FindingRecord) error {
	id := rec.Finding.ID
	if id == "" {
		return nil
	}
	return s.put(item{"pk": attrS(shard("fid", id)), "sk": attrS(id), "k": attrS(rec.Finding.Key)}, nil)
}

// changeFinding reads the finding k, lets change edit it and writes it
// back, retrying when another writer got there first. change returns
// false to write nothing. found is false when there is no such finding.
func (s *Store) changeFinding(k string, change func(fi *findingItem) bool) (fi findingItem, found bool, err error) {
	for range maxRetries {
		fi, found, err = s.getFinding(k)
		if err != nil || !found {
			return fi, found, err
		}
		if !change(&fi) {
			return fi, true, nil
		}
		err = s.putFindingItem(fi, true)
		if err != errConflict {
			return fi, true, err
		}
	}
	return fi, true, fmt.Errorf("finding %s: too many concurrent writers", k)
}

// Finding returns the record stored under key.
func (s *Store) Finding(key string) (picket.FindingRecord, bool, error) {
	fi, ok, err := s.getFinding(key)
	if err != nil {
		return picket.FindingRecord{}, false, fmt.Errorf("get finding %s: %w", key, err)
	}
	return fi.rec, ok, nil
}

// FindingByID returns the record of the finding whose source id is id.
func (s *Store) FindingByID(id string) (picket.FindingRecord, bool, error) {
	it, ok, err := s.get(shard("fid", id), id)
	if err != nil {
		return picket.FindingRecord{}, false, fmt.Errorf("get finding by id %s: %w", id, err)
	}
	if !ok {
		return picket.FindingRecord{}, false, nil
	}
	return s.Finding(getS(it, "k"))
}

// PutFinding saves rec under rec.Finding.Key, replacing the record (an
// outbox entry waiting for it stays), and indexes it by its source id.
func (s *Store) PutFinding(rec picket.FindingRecord) error {
	if err := s.putFinding(rec); err != nil {
		return fmt.Errorf("put finding %s: %w", rec.Finding.Key, err)
	}
	return nil
}

func (s *Store) putFinding(rec picket.FindingRecord) error {
	if rec.Finding.Key == "" {
		return picket.Errorf(picket.EINVALID, "finding %q has no key", rec.Finding.ID)
	}
	if err := s.indexID(&rec); err != nil {
		return err
	}
	for range maxRetries {
		fi, found, err := s.getFinding(rec.Finding.Key)
		if err != nil {
			return err
		}
		fi.rec = rec
		if err := s.putFindingItem(fi, found); err != errConflict {
			return err
		}
	}
	return fmt.Errorf("too many concurrent writers")
}

// PutFindings saves many records, one PutFinding each.
func (s *Store) PutFindings(recs []picket.FindingRecord) error {
	for _, rec := range recs {
		if err := s.putFinding(rec); err != nil {
			return fmt.Errorf("put %d findings: finding %s: %w", len(recs), rec.Finding.Key, err)
		}
	}
	return nil
}

// Findings calls fn for every stored finding, partition by partition (in
// key order within one).
func (s *Store) Findings(fn func(picket.FindingRecord) error) error {
	_, err := s.queryShards("f", queryOpts{}, func(it item) (bool, error) {
		fi, _, err := decodeFindingItem(it)
		if err != nil {
			return false, err
		}
		return true, fn(fi.rec)
	})
	if err != nil {
		return fmt.Errorf("list findings: %w", err)
	}
	return nil
}

// FindingSummaries is Findings with Finding.Raw dropped, except for control
// findings, whose Raw names their standard.
func (s *Store) FindingSummaries(fn func(picket.FindingRecord) error) error {
	return s.Findings(func(rec picket.FindingRecord) error {
		if rec.Finding.ComplianceStatus == "" {
			rec.Finding.Raw = nil
		}
		return fn(rec)
	})
}

// CountFindings counts the stored findings.
func (s *Store) CountFindings() (int, error) {
	n, err := s.queryShards("f", queryOpts{count: true}, func(item) (bool, error) { return true, nil })
	if err != nil {
		return 0, fmt.Errorf("count findings: %w", err)
	}
	return n, nil
}

// MessageDone reports whether the queue message was marked handled and the
// mark has not expired (DynamoDB's TTL deletes expired items only
// eventually, so the expiry is checked here).
func (s *Store) MessageDone(messageID string) (bool, error) {
	it, ok, err := s.get(shard("m", messageID), messageID)
	if err != nil {
		return false, fmt.Errorf("check message %s: %w", messageID, err)
	}
	return ok && !s.expired(it), nil
}

func (s *Store) expired(it item) bool {
	ttl := getN(it, "ttl")
	return ttl > 0 && ttl <= s.now().Unix()
}

// MarkMessageDone records that the queue message was fully handled at at.
// The mark expires Options.MessageTTL after it is written.
func (s *Store) MarkMessageDone(messageID string, at time.Time) error {
	if err := s.markMessage(messageID, at); err != nil {
		return fmt.Errorf("mark message %s done: %w", messageID, err)
	}
	return nil
}

func (s *Store) markMessage(messageID string, at time.Time) error {
	if messageID == "" {
		return picket.Errorf(picket.EINVALID, "message id is empty")
	}
	if at.IsZero() {
		at = s.now()
	}
	return s.put(item{"pk": attrS(shard("m", messageID)), "sk": attrS(messageID),
		"at": attrN(at.UnixNano()), "ttl": attrN(s.now().Add(s.messageTTL).Unix())}, nil)
}

// PruneMessages forgets the message ids marked before before. The table's
// TTL does the same eventually; this keeps the bbolt store's contract.
func (s *Store) PruneMessages(before time.Time) (int, error) {
	var old []item
	_, err := s.queryShards("m", queryOpts{filter: &cond{expr: "#at < :cut", names: map[string]string{"#at": "at"},
		values: item{":cut": attrN(before.UnixNano())}}}, func(it item) (bool, error) {
		old = append(old, it)
		return true, nil
	})
	for _, it := range old {
		if err == nil {
			err = s.del(getS(it, "pk"), getS(it, "sk"), nil)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("prune messages before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return len(old), nil
}

// encodeRecord writes rec as JSON with every time in UTC and HTML escaping
// off, as the bbolt store does, so exported records compare equal.
func encodeRecord(rec picket.FindingRecord) ([]byte, error) {
	f := &rec.Finding
	f.CreatedAt, f.UpdatedAt, f.FirstSeen, f.LastSeen = utc(f.CreatedAt), utc(f.UpdatedAt), utc(f.FirstSeen), utc(f.LastSeen)
	rec.FirstReceived, rec.LastReceived = utc(rec.FirstReceived), utc(rec.LastReceived)
	return encodeJSON(&rec)
}

// encodeJSON is json.Marshal without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

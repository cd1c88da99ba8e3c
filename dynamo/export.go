package dynamo

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/picketsec/picket"
)

// ExportItems calls fn for every item of the store (see picket.StoreItem).
// It reads kind by kind with Query; the table is not locked, so export a
// store that no Picket is writing to.
func (s *Store) ExportItems(fn func(picket.StoreItem) error) error {
	if err := s.exportItems(fn); err != nil {
		return fmt.Errorf("export table %s: %w", s.table, err)
	}
	return nil
}

func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

func (s *Store) exportItems(fn func(picket.StoreItem) error) error {
	emit := func(kind, key string, v json.RawMessage) error {
		return fn(picket.StoreItem{Kind: kind, Key: key, Value: v})
	}
	_, err := s.queryShards("f", queryOpts{}, func(it item) (bool, error) {
		k := getS(it, "sk")
		if err := emit(picket.ItemFinding, k, getB(it, "v")); err != nil {
			return false, err
		}
		if p := getB(it, "p"); len(p) > 0 {
			return true, emit(picket.ItemPending, k, p)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	simple := []struct {
		prefix  string
		sharded bool
		kind    string
		value   func(item) json.RawMessage
	}{
		{"fid", true, picket.ItemFindingID, func(it item) json.RawMessage { return raw(getS(it, "k")) }},
		{"m", true, picket.ItemMessage, func(it item) json.RawMessage { return raw(getN(it, "at")) }},
		{"a", true, picket.ItemAction, func(it item) json.RawMessage { return getB(it, "v") }},
		{"supp", false, picket.ItemSuppression, func(it item) json.RawMessage { return getB(it, "v") }},
		{"gopen", false, picket.ItemGroupOpen, func(item) json.RawMessage { return nil }},
		{"posts", false, picket.ItemPost, func(it item) json.RawMessage { return getB(it, "v") }},
		{"chan", false, picket.ItemChannel, func(it item) json.RawMessage { return raw(getS(it, "id")) }},
	}
	for _, k := range simple {
		each := func(it item) (bool, error) {
			if k.kind == picket.ItemMessage && s.expired(it) {
				return true, nil
			}
			return true, emit(k.kind, getS(it, "sk"), k.value(it))
		}
		if k.sharded {
			_, err = s.queryShards(k.prefix, queryOpts{}, each)
		} else {
			_, err = s.query(k.prefix, queryOpts{}, each)
		}
		if err != nil {
			return err
		}
	}
	// Kinds keyed by a name or id in the partition key are found through
	// the items that name them.
	actions, err := s.AllActions()
	if err != nil {
		return err
	}
	claims, findings := map[string]bool{}, map[string]bool{}
	for _, rec := range actions {
		claims[rec.Request.ClaimKey()] = true
		if rec.Request.FindingKey != "" {
			findings[rec.Request.FindingKey] = true
		}
	}
	for _, ck := range sortedKeys(claims) {
		it, ok, err := s.get("c#"+ck, "-")
		if err != nil {
			return err
		}
		if ok {
			if err := emit(picket.ItemClaim, ck, raw(getS(it, "holder"))); err != nil {
				return err
			}
		}
	}
	for _, fk := range sortedKeys(findings) {
		recs, err := s.ActionsForFinding(fk)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := emit(picket.ItemFindingAction, fk, raw(rec.Request.ID)); err != nil {
				return err
			}
		}
	}
	_, err = s.query("counter", queryOpts{}, func(it item) (bool, error) {
		return true, emit(picket.ItemCounter, getS(it, "sk"), raw(getN(it, "n")))
	})
	if err != nil {
		return err
	}
	if it, ok, err := s.get("counter", "groups"); err != nil {
		return err
	} else if ok {
		for n := int64(1); n <= getN(it, "n"); n++ {
			if err := s.exportGroup("g"+strconv.FormatInt(n, 10), emit); err != nil {
				return err
			}
		}
	}
	for _, name := range s.digestNames() {
		if err := s.exportDigest(name, emit); err != nil {
			return err
		}
	}
	_, err = s.queryShards(autoPrefix, queryOpts{}, func(it item) (bool, error) {
		return true, emit(picket.ItemAutoRun, getS(it, "sk"), getB(it, "v"))
	})
	if err != nil {
		return err
	}
	if it, ok, err := s.get("meta", "autoswitch"); err != nil {
		return err
	} else if ok {
		if err := emit(picket.ItemAutoSwitch, "switch", getB(it, "v")); err != nil {
			return err
		}
	}
	_, err = s.query("audit", queryOpts{}, func(it item) (bool, error) {
		return true, emit(picket.ItemAudit, strings.TrimLeft(getS(it, "sk"), "0"), getB(it, "v"))
	})
	return err
}

func (s *Store) exportGroup(id string, emit func(kind, key string, v json.RawMessage) error) error {
	it, ok, err := s.get(groupPK(id), "-")
	if err != nil || !ok {
		return err
	}
	if err := emit(picket.ItemGroup, id, getB(it, "v")); err != nil {
		return err
	}
	_, err = s.query("gm#"+id, queryOpts{}, func(it item) (bool, error) {
		n, _ := strconv.Atoi(getS(it, "sk"))
		return true, emit(picket.ItemGroupMember, id, raw(picket.GroupMember{N: n, Key: getS(it, "k")}))
	})
	return err
}

// digestNames are the digest schedules: the store records their names
// under "dnames" when it first writes for one.
func (s *Store) digestNames() []string {
	var names []string
	_, _ = s.query("dnames", queryOpts{}, func(it item) (bool, error) {
		names = append(names, getS(it, "sk"))
		return true, nil
	})
	return names
}

func (s *Store) exportDigest(name string, emit func(kind, key string, v json.RawMessage) error) error {
	if last, ok, err := s.LastDigestRun(name); err != nil {
		return err
	} else if ok {
		if err := emit(picket.ItemDigestRun, name, raw(last.UnixNano())); err != nil {
			return err
		}
	}
	_, err := s.query("ds#"+name, queryOpts{}, func(it item) (bool, error) {
		return true, emit(picket.ItemDigestSnapshot, name, getB(it, "v"))
	})
	return err
}

func (s *Store) nameDigest(name string) error {
	return s.put(item{"pk": attrS("dnames"), "sk": attrS(name)}, nil)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ImportItems stores the items next yields into this table, which must
// hold no finding and no audit entry. Audit entries keep their sealed
// bytes; the head record is raised to the last one.
func (s *Store) ImportItems(next func() (picket.StoreItem, bool, error)) (int, error) {
	n, err := s.importItems(next)
	if err != nil {
		return n, fmt.Errorf("import into table %s: %w", s.table, err)
	}
	return n, nil
}

func (s *Store) importItems(next func() (picket.StoreItem, bool, error)) (int, error) {
	if c, err := s.CountFindings(); err != nil || c > 0 {
		if err == nil {
			err = picket.ErrStoreNotEmpty
		}
		return 0, err
	}
	if _, ok, err := s.lastAudit(); err != nil || ok {
		if err == nil {
			err = picket.ErrStoreNotEmpty
		}
		return 0, err
	}
	var (
		n        int
		order    int64
		headSeq  int64
		headHash string
		groupSeq int64
		orphans  = map[string]bool{} // keys of outbox entries with no finding yet
	)
	for {
		it, ok, err := next()
		if err != nil {
			return n, err
		}
		if !ok {
			break
		}
		n++
		if err := s.importItem(it, &order, &headSeq, &headHash, &groupSeq, orphans); err != nil {
			return n, fmt.Errorf("%s %q: %w", it.Kind, it.Key, err)
		}
	}
	if len(orphans) > 0 {
		return n, picket.Errorf(picket.EINVALID, "outbox entries of findings the import does not hold: %q", sortedKeys(orphans))
	}
	if headSeq > 0 {
		if _, err := s.update("audit_head", "-", "SET #seq = :seq, #hash = :hash", nil,
			map[string]string{"#seq": "seq", "#hash": "hash"}, item{":seq": attrN(headSeq), ":hash": attrS(headHash)}); err != nil {
			return n, err
		}
	}
	if groupSeq > 0 {
		if _, err := s.update("counter", "groups", "SET #n = :n", nil, map[string]string{"#n": "n"}, item{":n": attrN(groupSeq)}); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Store) importItem(it picket.StoreItem, order, headSeq *int64, headHash *string, groupSeq *int64,
	orphans map[string]bool) error {
	var str string
	var num int64
	switch it.Kind {
	case picket.ItemFindingID, picket.ItemClaim, picket.ItemFindingAction, picket.ItemChannel:
		if err := json.Unmarshal(it.Value, &str); err != nil {
			return err
		}
	case picket.ItemMessage, picket.ItemDigestRun, picket.ItemCounter:
		if err := json.Unmarshal(it.Value, &num); err != nil {
			return err
		}
	}
	k := it.Key
	switch it.Kind {
	case picket.ItemFinding:
		// A finding and its outbox entry are one item here, set
		// attribute by attribute so that either may come first.
		delete(orphans, k)
		_, err := s.update(findingPK(k), k, "SET #v = :v, #ver = :one", nil,
			map[string]string{"#v": "v", "#ver": "ver"}, item{":v": attrB(it.Value), ":one": attrN(1)})
		return err
	case picket.ItemPending:
		var entry picket.Pending
		if err := json.Unmarshal(it.Value, &entry); err != nil {
			return err
		}
		entry.Key = k
		if err := s.putIndex(entry); err != nil {
			return err
		}
		attrs, err := s.update(findingPK(k), k, "SET #p = :p", nil,
			map[string]string{"#p": "p"}, item{":p": attrB(it.Value)})
		if err == nil && len(getB(attrs, "v")) == 0 {
			orphans[k] = true
		}
		return err
	case picket.ItemFindingID:
		return s.put(item{"pk": attrS(shard("fid", k)), "sk": attrS(k), "k": attrS(str)}, nil)
	case picket.ItemMessage:
		return s.put(item{"pk": attrS(shard("m", k)), "sk": attrS(k), "at": attrN(num),
			"ttl": attrN(s.now().Add(s.messageTTL).Unix())}, nil)
	case picket.ItemAction:
		var rec picket.ActionRecord
		if err := json.Unmarshal(it.Value, &rec); err != nil {
			return err
		}
		return s.put(item{"pk": attrS(actionPK(k)), "sk": attrS(k), "v": attrB(it.Value), "status": attrS(string(rec.Status))}, nil)
	case picket.ItemClaim:
		return s.put(item{"pk": attrS("c#" + k), "sk": attrS("-"), "holder": attrS(str), "at": attrN(s.now().UnixNano()), "v": attrB([]byte("{}"))}, nil)
	case picket.ItemFindingAction:
		*order++
		return s.put(item{"pk": attrS("fa#" + k), "sk": attrS(str), "at": attrN(*order)}, nil)
	case picket.ItemSuppression:
		return s.put(item{"pk": attrS("supp"), "sk": attrS(k), "v": attrB(it.Value)}, nil)
	case picket.ItemDigestSnapshot:
		var snap picket.DigestSnapshot
		if err := json.Unmarshal(it.Value, &snap); err != nil {
			return err
		}
		if err := s.nameDigest(k); err != nil {
			return err
		}
		return s.put(item{"pk": attrS("ds#" + k), "sk": attrS(dayKey(snap.Day)), "v": attrB(it.Value)}, nil)
	case picket.ItemDigestRun:
		if err := s.nameDigest(k); err != nil {
			return err
		}
		return s.put(item{"pk": attrS("dr#" + k), "sk": attrS("-"), "slot": attrN(num)}, nil)
	case picket.ItemGroup:
		if g, err := strconv.ParseInt(strings.TrimPrefix(k, "g"), 10, 64); err == nil {
			*groupSeq = max(*groupSeq, g)
		}
		return s.put(item{"pk": attrS(groupPK(k)), "sk": attrS("-"), "v": attrB(it.Value), "ver": attrN(1)}, nil)
	case picket.ItemGroupOpen:
		return s.put(item{"pk": attrS("gopen"), "sk": attrS(k), "gver": attrN(1)}, nil)
	case picket.ItemGroupMember:
		var m picket.GroupMember
		if err := json.Unmarshal(it.Value, &m); err != nil {
			return err
		}
		return s.put(item{"pk": attrS("gm#" + k), "sk": attrS(memberSK(m.N)), "k": attrS(m.Key)}, nil)
	case picket.ItemPost:
		return s.put(item{"pk": attrS("posts"), "sk": attrS(k), "v": attrB(it.Value)}, nil)
	case picket.ItemChannel:
		return s.put(item{"pk": attrS("chan"), "sk": attrS(k), "id": attrS(str)}, nil)
	case picket.ItemAudit:
		seq, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return err
		}
		e, err := decodeAudit(it.Value)
		if err != nil {
			return err
		}
		if int64(seq) >= *headSeq {
			*headSeq, *headHash = int64(seq), e.Hash
		}
		return s.put(item{"pk": attrS("audit"), "sk": attrS(seqSK(seq)), "v": attrB(it.Value)}, &cond{expr: "attribute_not_exists(pk)"})
	case picket.ItemAutoRun:
		var run picket.AutoRun
		if err := json.Unmarshal(it.Value, &run); err != nil {
			return err
		}
		return s.PutAutoRun(run)
	case picket.ItemAutoSwitch:
		var sw picket.AutoSwitch
		if err := json.Unmarshal(it.Value, &sw); err != nil {
			return err
		}
		return s.PutAutoSwitch(sw)
	case picket.ItemCounter:
		if k == "groups" {
			*groupSeq = max(*groupSeq, num)
		}
		return nil
	}
	return picket.Errorf(picket.EINVALID, "unknown kind of item %q", it.Kind)
}

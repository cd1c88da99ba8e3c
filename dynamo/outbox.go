package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/picketsec/picket"
)

// Outbox returns every entry waiting for Slack, in finding-key order: the
// Pending entries of the findings the outbox index names.
func (s *Store) Outbox() ([]picket.Pending, error) {
	var keys []string
	_, err := s.queryShards("o", queryOpts{}, func(it item) (bool, error) {
		keys = append(keys, getS(it, "sk"))
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	sort.Strings(keys)
	var out []picket.Pending
	for _, k := range keys {
		fi, ok, err := s.getFinding(k)
		if err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		if ok && fi.pending != nil {
			out = append(out, *fi.pending)
		}
	}
	return out, nil
}

// dequeue removes finding k's outbox entry when its Seq is seq.
func (s *Store) dequeue(k string, seq uint64) error {
	_, _, err := s.changeFinding(k, func(fi *findingItem) bool {
		if fi.pending == nil || fi.pending.Seq != seq {
			return false
		}
		fi.pending = nil
		return true
	})
	if err != nil {
		return err
	}
	return s.dropIndex(k, seq)
}

// Posts returns the posts in flight.
func (s *Store) Posts() ([]picket.Post, error) {
	var out []picket.Post
	_, err := s.query("posts", queryOpts{}, func(it item) (bool, error) {
		var p picket.Post
		if err := json.Unmarshal(getB(it, "v"), &p); err != nil {
			return false, fmt.Errorf("decode post %s: %w", getS(it, "sk"), err)
		}
		out = append(out, p)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read posts in flight: %w", err)
	}
	return out, nil
}

// BeginPost records p as in flight.
func (s *Store) BeginPost(p picket.Post) error {
	if p.ID == "" {
		return picket.Errorf(picket.EINVALID, "post has no id")
	}
	p.Started = utc(p.Started)
	v, err := json.Marshal(p)
	if err == nil {
		err = s.put(item{"pk": attrS("posts"), "sk": attrS(p.ID), "v": attrB(v)}, nil)
	}
	if err != nil {
		return fmt.Errorf("begin post %s: %w", p.ID, err)
	}
	return nil
}

// AbandonPost forgets the in-flight post id.
func (s *Store) AbandonPost(id string) error {
	if err := s.endPost(id); err != nil {
		return fmt.Errorf("abandon post %s: %w", id, err)
	}
	return nil
}

func (s *Store) endPost(id string) error {
	if id == "" {
		return nil
	}
	return s.del("posts", id, nil)
}

// AlertPosted records that the alert of finding key is ref, removes its
// outbox entry if it is still entry seq, and then ends the in-flight post:
// after a crash in between, the post is looked for and found.
func (s *Store) AlertPosted(post, key string, seq uint64, ref picket.MessageRef) error {
	var removed bool
	fi, found, err := s.changeFinding(key, func(fi *findingItem) bool {
		fi.rec.Ref = ref
		removed = fi.pending != nil && fi.pending.Seq == seq
		if removed {
			fi.pending = nil
		}
		return true
	})
	if err == nil && !found {
		err = picket.Errorf(picket.ENOTFOUND, "no finding %s", key)
	}
	if err == nil && removed {
		err = s.dropIndex(key, seq)
	}
	if err == nil {
		err = s.learnChannel(fi.rec.Route.Channel, ref.Channel)
	}
	if err == nil {
		err = s.endPost(post)
	}
	if err != nil {
		return fmt.Errorf("record alert of %s posted: %w", key, err)
	}
	return nil
}

// StartAlertPosted runs AlertPosted at once (every write here is durable
// when it returns) and returns its result as wait.
func (s *Store) StartAlertPosted(post, key string, seq uint64, ref picket.MessageRef) (wait func() error) {
	err := s.AlertPosted(post, key, seq, ref)
	return func() error { return err }
}

// AlertUpdated removes finding key's outbox entry if it is still entry seq.
func (s *Store) AlertUpdated(key string, seq uint64) error {
	if err := s.dequeue(key, seq); err != nil {
		return fmt.Errorf("record alert of %s updated: %w", key, err)
	}
	return nil
}

// ChannelID returns the id Slack gave the channel configured as name, or
// name when not yet learnt.
func (s *Store) ChannelID(name string) (string, error) {
	it, ok, err := s.get("chan", name)
	if err != nil {
		return name, fmt.Errorf("look up channel %s: %w", name, err)
	}
	if id := getS(it, "id"); ok && id != "" {
		return id, nil
	}
	return name, nil
}

func (s *Store) learnChannel(name, id string) error {
	if name == "" || id == "" || name == id {
		return nil
	}
	return s.put(item{"pk": attrS("chan"), "sk": attrS(name), "id": attrS(id)}, nil)
}

// Groups.

func groupPK(id string) string { return "g#" + id }

func memberSK(n int) string { return fmt.Sprintf("%012d", n) }

func (s *Store) getGroup(id string) (picket.Group, int64, bool, error) {
	it, ok, err := s.get(groupPK(id), "-")
	if err != nil || !ok {
		return picket.Group{}, 0, ok, err
	}
	var g picket.Group
	if err := json.Unmarshal(getB(it, "v"), &g); err != nil {
		return picket.Group{}, 0, false, fmt.Errorf("decode group %s: %w", id, err)
	}
	return g, getN(it, "ver"), true, nil
}

// putGroup writes g as version ver+1 on condition that it is still ver (0:
// new), and puts a group with work on the open list.
func (s *Store) putGroup(g picket.Group, ver int64) error {
	if err := s.putGroupItem(g, ver); err != nil {
		return err
	}
	if g.Work() {
		return s.put(item{"pk": attrS("gopen"), "sk": attrS(g.ID), "gver": attrN(ver + 1)}, nil)
	}
	return nil
}

// putGroupItem writes g alone, leaving the open list as it is.
func (s *Store) putGroupItem(g picket.Group, ver int64) error {
	v, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode group %s: %w", g.ID, err)
	}
	c := &cond{expr: "attribute_not_exists(pk)"}
	if ver > 0 {
		c = &cond{expr: "ver = :ver", values: item{":ver": attrN(ver)}}
	}
	return s.put(item{"pk": attrS(groupPK(g.ID)), "sk": attrS("-"), "v": attrB(v), "ver": attrN(ver + 1)}, c)
}

var errNoGroup = errors.New("no such group")

// changeGroup reads group id, lets change edit it and writes it back,
// retrying on conflict.
func (s *Store) changeGroup(id string, change func(g *picket.Group)) (picket.Group, error) {
	for range maxRetries {
		g, ver, ok, err := s.getGroup(id)
		if err != nil {
			return picket.Group{}, err
		}
		if !ok {
			return picket.Group{}, fmt.Errorf("group %s: %w", id, errNoGroup)
		}
		change(&g)
		if err := s.putGroup(g, ver); !errors.Is(err, errConflict) {
			return g, err
		}
	}
	return picket.Group{}, fmt.Errorf("group %s: too many concurrent writers", id)
}

// changeMember applies a member's new version to its group's summary. A
// group that is missing (its FormGroup was cut short by a crash) is
// skipped.
func (s *Store) changeMember(id string, old, f *picket.Finding) (picket.Group, bool, error) {
	g, err := s.changeGroup(id, func(g *picket.Group) { g.Change(old, f) })
	if errors.Is(err, errNoGroup) {
		return picket.Group{}, false, nil
	}
	return g, err == nil, err
}

// Group returns the group with id.
func (s *Store) Group(id string) (picket.Group, bool, error) {
	g, _, ok, err := s.getGroup(id)
	if err != nil {
		return picket.Group{}, false, fmt.Errorf("get group %s: %w", id, err)
	}
	return g, ok, nil
}

// OpenGroups returns the groups that have work left or may take members.
func (s *Store) OpenGroups() ([]picket.Group, error) {
	var ids []string
	_, err := s.query("gopen", queryOpts{}, func(it item) (bool, error) {
		ids = append(ids, getS(it, "sk"))
		return true, nil
	})
	var out []picket.Group
	for _, id := range ids {
		if err != nil {
			break
		}
		var g picket.Group
		var ok bool
		g, _, ok, err = s.getGroup(id)
		if ok {
			out = append(out, g)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read open groups: %w", err)
	}
	return out, nil
}

// FormGroup stores g with members joining it. A new group (g.ID empty)
// gets the next number and is written first, empty, so that a member
// marked as in it always finds it; then each member's item is marked (on
// condition that it is in no group and not shown on its own) and its
// outbox entry removed, its member entry written, and finally the summary
// counts the members that joined.
func (s *Store) FormGroup(g picket.Group, members []picket.Pending, at time.Time) (picket.Group, []string, error) {
	g, joined, err := s.formGroup(g, members, at)
	if err != nil {
		return picket.Group{}, nil, fmt.Errorf("form group: %w", err)
	}
	return g, joined, nil
}

func (s *Store) formGroup(g picket.Group, members []picket.Pending, at time.Time) (picket.Group, []string, error) {
	at = utc(at)
	if at.IsZero() {
		at = s.now().UTC()
	}
	if g.ID == "" {
		out, err := s.update("counter", "groups", "ADD #n :one", nil, map[string]string{"#n": "n"}, item{":one": attrN(1)})
		if err != nil {
			return g, nil, fmt.Errorf("number group: %w", err)
		}
		g.ID = "g" + strconv.FormatInt(getN(out, "n"), 10)
		g.Opened = at
		// Written empty (and so not open) before any member points at it.
		if err := s.putGroupItem(g, 0); err != nil {
			return g, nil, err
		}
	} else {
		cur, _, ok, err := s.getGroup(g.ID)
		if err != nil {
			return g, nil, err
		}
		if !ok {
			return g, nil, fmt.Errorf("group %s: %w", g.ID, errNoGroup)
		}
		g = cur
	}
	var joined []string
	var recs []picket.Finding
	next := g.Members
	for _, p := range members {
		var removed *picket.Pending
		// joins is whether this call marked the member: one already in a
		// group, this one included (an outbox read from before it
		// joined), is not written or counted again.
		joins := false
		fi, found, err := s.changeFinding(p.Key, func(fi *findingItem) bool {
			joins = false
			if fi.rec.Group != "" || !fi.rec.Ref.Zero() {
				return false
			}
			fi.rec.Group, fi.rec.Ref = g.ID, g.Ref
			if fi.rec.Route.Channel == "" {
				fi.rec.Route.Channel = g.Channel
			}
			removed, fi.pending = fi.pending, nil
			joins = true
			return true
		})
		if err != nil {
			return g, nil, err
		}
		if !found || !joins {
			continue
		}
		if removed != nil {
			if err := s.dropIndex(p.Key, removed.Seq); err != nil {
				return g, nil, err
			}
		}
		if err := s.put(item{"pk": attrS("gm#" + g.ID), "sk": attrS(memberSK(next)), "k": attrS(p.Key)}, nil); err != nil {
			return g, nil, err
		}
		next++
		joined = append(joined, p.Key)
		recs = append(recs, fi.rec.Finding)
	}
	if len(joined) == 0 {
		if g.Members == 0 {
			return picket.Group{}, nil, nil
		}
		return g, nil, nil
	}
	g, err := s.changeGroup(g.ID, func(cur *picket.Group) {
		for i := range recs {
			cur.Add(&recs[i])
		}
		cur.LastAdded = at
	})
	if err != nil {
		return g, nil, err
	}
	return g, joined, nil
}

// GroupPosted records the group's message ref (on the group and on every
// member so far), that it shows version shown, and ends the in-flight
// post.
func (s *Store) GroupPosted(post, id string, ref picket.MessageRef, shown uint64, at time.Time) (picket.Group, error) {
	g, err := s.changeGroup(id, func(g *picket.Group) {
		g.Ref, g.Shown, g.ShownAt = ref, max(g.Shown, shown), utc(at)
	})
	if err == nil {
		err = s.learnChannel(g.Channel, ref.Channel)
	}
	if err == nil {
		_, err = s.query("gm#"+id, queryOpts{}, func(it item) (bool, error) {
			_, _, err := s.changeFinding(getS(it, "k"), func(fi *findingItem) bool {
				fi.rec.Ref = ref
				return true
			})
			return true, err
		})
	}
	if err == nil {
		err = s.endPost(post)
	}
	if err != nil {
		return picket.Group{}, fmt.Errorf("record group %s posted: %w", id, err)
	}
	return g, nil
}

// GroupShown records that the group's message shows version shown.
func (s *Store) GroupShown(id string, shown uint64, at time.Time) (picket.Group, error) {
	g, err := s.changeGroup(id, func(g *picket.Group) { g.Shown, g.ShownAt = max(g.Shown, shown), utc(at) })
	if err != nil {
		return picket.Group{}, fmt.Errorf("record group %s shown: %w", id, err)
	}
	return g, nil
}

// GroupListed records that the thread lists members before to and ends the
// in-flight post.
func (s *Store) GroupListed(post, id string, to int) (picket.Group, error) {
	g, err := s.changeGroup(id, func(g *picket.Group) { g.Listed = max(g.Listed, min(to, g.Members)) })
	if err == nil {
		err = s.endPost(post)
	}
	if err != nil {
		return picket.Group{}, fmt.Errorf("record group %s listed: %w", id, err)
	}
	return g, nil
}

// GroupMembers returns up to n members of group id from member number
// from, in joining order.
func (s *Store) GroupMembers(id string, from, n int) ([]picket.FindingRecord, error) {
	var out []picket.FindingRecord
	if n <= 0 {
		return nil, nil
	}
	_, err := s.query("gm#"+id, queryOpts{from: memberSK(from)}, func(it item) (bool, error) {
		fi, ok, err := s.getFinding(getS(it, "k"))
		if err != nil {
			return false, err
		}
		if ok {
			out = append(out, fi.rec)
		}
		return len(out) < n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", id, err)
	}
	return out, nil
}

// CloseGroup takes a group without work off the open list. The open entry
// is deleted on condition that no writer reopened it since the group was
// read.
func (s *Store) CloseGroup(id string) error {
	g, ver, ok, err := s.getGroup(id)
	if err == nil && !ok {
		err = fmt.Errorf("group %s: %w", id, errNoGroup)
	}
	if err == nil && !g.Work() {
		err = s.del("gopen", id, &cond{expr: "attribute_not_exists(pk) OR gver <= :ver", values: item{":ver": attrN(ver)}})
		if errors.Is(err, errConflict) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("close group %s: %w", id, err)
	}
	return nil
}

var _ picket.OutboxIndex = (*Store)(nil)

// OutboxRefs implements picket.OutboxIndex: the index items alone (one
// Query per partition), without reading the findings they name.
func (s *Store) OutboxRefs() ([]picket.OutboxRef, error) {
	var out []picket.OutboxRef
	_, err := s.queryShards("o", queryOpts{}, func(it item) (bool, error) {
		ref := picket.OutboxRef{Key: getS(it, "sk"), Channel: getS(it, "ch"), Seq: uint64(getN(it, "seq"))}
		if ms := getN(it, "enq"); ms > 0 {
			ref.Enqueued = time.UnixMilli(ms).UTC()
		}
		out = append(out, ref)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox index: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// PendingOf implements picket.OutboxIndex: the entry as the finding's item
// holds it (the index may name an entry a crash left unwritten).
func (s *Store) PendingOf(key string) (picket.Pending, bool, error) {
	fi, ok, err := s.getFinding(key)
	if err != nil || !ok || fi.pending == nil {
		return picket.Pending{}, false, err
	}
	return *fi.pending, true, nil
}

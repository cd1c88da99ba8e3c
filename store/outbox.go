package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.OutboxStore = (*DB)(nil)

// Every write here goes through the group committer with intake's: each
// lane's writes are few, but many lanes and intake at once share fsyncs.
// Their functions read what they change inside the transaction, so they
// may run again after another call's failure.

// Outbox returns every entry waiting for Slack, in finding-key order.
func (db *DB) Outbox() ([]picket.Pending, error) {
	var out []picket.Pending
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var p picket.Pending
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode outbox entry %s: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// OpenGroups returns the groups that have work left or may take members.
func (db *DB) OpenGroups() ([]picket.Group, error) {
	var out []picket.Group
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGroupsOpen).ForEach(func(k, _ []byte) error {
			g, ok, err := getGroup(tx, string(k))
			if err != nil || !ok {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read open groups: %w", err)
	}
	return out, nil
}

// Group returns the group with id.
func (db *DB) Group(id string) (g picket.Group, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		g, ok, err = getGroup(tx, id)
		return err
	})
	if err != nil {
		return picket.Group{}, false, fmt.Errorf("get group %s: %w", id, err)
	}
	return g, ok, nil
}

// Posts returns the posts in flight.
func (db *DB) Posts() ([]picket.Post, error) {
	var out []picket.Post
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPosts).ForEach(func(k, v []byte) error {
			var p picket.Post
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode post %s: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read posts in flight: %w", err)
	}
	return out, nil
}

// BeginPost records p as in flight; it returns once that is on disk.
func (db *DB) BeginPost(p picket.Post) error {
	if p.ID == "" {
		return picket.Errorf(picket.EINVALID, "post has no id")
	}
	p.Started = utc(p.Started)
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("begin post %s: %w", p.ID, err)
	}
	if err := db.groupUpdate(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPosts).Put([]byte(p.ID), v)
	}); err != nil {
		return fmt.Errorf("begin post %s: %w", p.ID, err)
	}
	return nil
}

// AbandonPost forgets the in-flight post id.
func (db *DB) AbandonPost(id string) error {
	if err := db.groupUpdate(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPosts).Delete([]byte(id))
	}); err != nil {
		return fmt.Errorf("abandon post %s: %w", id, err)
	}
	return nil
}

// AlertPosted records that the alert of finding key is ref, ends the
// in-flight post (when post is not empty) and removes the finding's outbox
// entry if it is still the one sent (Seq seq); a newer entry stays, to be
// shown as an update of ref.
func (db *DB) AlertPosted(post, key string, seq uint64, ref picket.MessageRef) error {
	return db.StartAlertPosted(post, key, seq, ref)()
}

// StartAlertPosted queues the write AlertPosted makes and returns at once;
// wait returns its result. The next write queued by the same goroutine (a
// lane's next BeginPost) lands in the same transaction or a later one, so
// a lane pays one fsync per post rather than two.
func (db *DB) StartAlertPosted(post, key string, seq uint64, ref picket.MessageRef) (wait func() error) {
	w := db.startUpdate(func(tx *bolt.Tx) error {
		rec, ok, err := getFinding(tx, key)
		if err != nil {
			return err
		}
		if !ok {
			return picket.Errorf(picket.ENOTFOUND, "no finding %s", key)
		}
		rec.Ref = ref
		if err := putFinding(tx, rec); err != nil {
			return err
		}
		if err := learnChannel(tx, rec.Route.Channel, ref.Channel); err != nil {
			return err
		}
		if post != "" {
			if err := tx.Bucket(bucketPosts).Delete([]byte(post)); err != nil {
				return err
			}
		}
		return dequeue(tx, key, seq)
	})
	return func() error {
		if err := w(); err != nil {
			return fmt.Errorf("record alert of %s posted: %w", key, err)
		}
		return nil
	}
}

// AlertUpdated removes the outbox entry of finding key if it is still the
// one shown (Seq seq).
func (db *DB) AlertUpdated(key string, seq uint64) error {
	if err := db.groupUpdate(func(tx *bolt.Tx) error { return dequeue(tx, key, seq) }); err != nil {
		return fmt.Errorf("record alert of %s updated: %w", key, err)
	}
	return nil
}

// dequeue removes key's outbox entry when its Seq is seq.
func dequeue(tx *bolt.Tx, key string, seq uint64) error {
	b := tx.Bucket(bucketOutbox)
	v := b.Get([]byte(key))
	if v == nil {
		return nil
	}
	var p picket.Pending
	if err := json.Unmarshal(v, &p); err != nil {
		return fmt.Errorf("decode outbox entry %s: %w", key, err)
	}
	if p.Seq != seq {
		return nil
	}
	return b.Delete([]byte(key))
}

// FormGroup stores g with members joining it, in one transaction: a new
// group (g.ID empty) gets the next id; each member is counted in the
// summary, numbered, marked in its record as in the group (with the
// group's Ref) and its outbox entry removed. A finding already in a group,
// already shown on its own, or gone from the store is skipped. It returns
// the group and the keys of the findings that joined. The group stays
// open.
func (db *DB) FormGroup(g picket.Group, members []picket.Pending, at time.Time) (picket.Group, []string, error) {
	var joined []string
	at = utc(at)
	if at.IsZero() {
		at = db.now().UTC()
	}
	err := db.groupUpdate(func(tx *bolt.Tx) error {
		joined = joined[:0]
		if g.ID == "" {
			seq, err := tx.Bucket(bucketGroups).NextSequence()
			if err != nil {
				return err
			}
			g.ID = "g" + strconv.FormatUint(seq, 10)
			g.Opened = at
		} else {
			cur, ok, err := getGroup(tx, g.ID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("group %s: %w", g.ID, errNoGroup)
			}
			g = cur
		}
		mb := tx.Bucket(bucketGroupMembers)
		for _, p := range members {
			rec, ok, err := getFinding(tx, p.Key)
			if err != nil {
				return err
			}
			if !ok || rec.Group != "" || !rec.Ref.Zero() {
				continue
			}
			joined = append(joined, p.Key)
			rec.Group, rec.Ref = g.ID, g.Ref
			if rec.Route.Channel == "" {
				rec.Route.Channel = g.Channel
			}
			if err := putFinding(tx, rec); err != nil {
				return err
			}
			if err := mb.Put(memberKey(g.ID, g.Members), []byte(p.Key)); err != nil {
				return err
			}
			g.Add(&rec.Finding)
			g.LastAdded = at
			// The member is shown by the group from now on, whatever
			// version waits in the outbox.
			if err := tx.Bucket(bucketOutbox).Delete([]byte(p.Key)); err != nil {
				return err
			}
		}
		if g.Members == 0 {
			// Nobody could join: no group to show.
			g = picket.Group{}
			return nil
		}
		if err := putGroup(tx, g); err != nil {
			return err
		}
		return tx.Bucket(bucketGroupsOpen).Put([]byte(g.ID), nil)
	})
	if err != nil {
		return picket.Group{}, nil, fmt.Errorf("form group: %w", err)
	}
	return g, joined, nil
}

// GroupPosted records the group's message ref (on the group and on every
// member so far), that it shows version shown, and ends the in-flight
// post.
func (db *DB) GroupPosted(post, id string, ref picket.MessageRef, shown uint64, at time.Time) (picket.Group, error) {
	var g picket.Group
	err := db.groupUpdate(func(tx *bolt.Tx) error {
		var err error
		if g, err = mustGroup(tx, id); err != nil {
			return err
		}
		g.Ref, g.Shown, g.ShownAt = ref, max(g.Shown, shown), utc(at)
		if err := learnChannel(tx, g.Channel, ref.Channel); err != nil {
			return err
		}
		keys := tx.Bucket(bucketGroupMembers).Cursor()
		prefix := memberPrefix(id)
		for k, v := keys.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = keys.Next() {
			rec, ok, err := getFinding(tx, string(v))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			rec.Ref = ref
			if err := putFinding(tx, rec); err != nil {
				return err
			}
		}
		if err := putGroup(tx, g); err != nil {
			return err
		}
		return tx.Bucket(bucketPosts).Delete([]byte(post))
	})
	if err != nil {
		return picket.Group{}, fmt.Errorf("record group %s posted: %w", id, err)
	}
	return g, nil
}

// GroupShown records that the group's message shows version shown.
func (db *DB) GroupShown(id string, shown uint64, at time.Time) (picket.Group, error) {
	var g picket.Group
	err := db.groupUpdate(func(tx *bolt.Tx) error {
		var err error
		if g, err = mustGroup(tx, id); err != nil {
			return err
		}
		g.Shown, g.ShownAt = max(g.Shown, shown), utc(at)
		return putGroup(tx, g)
	})
	if err != nil {
		return picket.Group{}, fmt.Errorf("record group %s shown: %w", id, err)
	}
	return g, nil
}

// GroupListed records that the thread lists members before to and ends
// the in-flight post.
func (db *DB) GroupListed(post, id string, to int) (picket.Group, error) {
	var g picket.Group
	err := db.groupUpdate(func(tx *bolt.Tx) error {
		var err error
		if g, err = mustGroup(tx, id); err != nil {
			return err
		}
		g.Listed = max(g.Listed, min(to, g.Members))
		if err := putGroup(tx, g); err != nil {
			return err
		}
		return tx.Bucket(bucketPosts).Delete([]byte(post))
	})
	if err != nil {
		return picket.Group{}, fmt.Errorf("record group %s listed: %w", id, err)
	}
	return g, nil
}

// GroupMembers returns up to n members of group id, from member number
// from, in joining order.
func (db *DB) GroupMembers(id string, from, n int) ([]picket.FindingRecord, error) {
	var out []picket.FindingRecord
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketGroupMembers).Cursor()
		prefix := memberPrefix(id)
		for k, v := c.Seek(memberKey(id, from)); k != nil && hasPrefix(k, prefix) && len(out) < n; k, v = c.Next() {
			rec, ok, err := getFinding(tx, string(v))
			if err != nil {
				return err
			}
			if ok {
				out = append(out, rec)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", id, err)
	}
	return out, nil
}

// CloseGroup takes the group off the open list: it takes no more members.
// A group that still has work stays open.
func (db *DB) CloseGroup(id string) error {
	err := db.groupUpdate(func(tx *bolt.Tx) error {
		g, err := mustGroup(tx, id)
		if err != nil {
			return err
		}
		if g.Work() {
			return nil
		}
		return tx.Bucket(bucketGroupsOpen).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("close group %s: %w", id, err)
	}
	return nil
}

// ChannelID returns the id Slack gave the channel configured as name
// ("#security-alerts"), learnt from the first post there; name itself when
// it is an id or not yet learnt.
func (db *DB) ChannelID(name string) (string, error) {
	id := name
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketChannels).Get([]byte(name)); v != nil {
			id = string(v)
		}
		return nil
	})
	if err != nil {
		return name, fmt.Errorf("look up channel %s: %w", name, err)
	}
	return id, nil
}

// learnChannel remembers that Slack calls the configured channel name id.
func learnChannel(tx *bolt.Tx, name, id string) error {
	if name == "" || id == "" || name == id {
		return nil
	}
	b := tx.Bucket(bucketChannels)
	if string(b.Get([]byte(name))) == id {
		return nil
	}
	return b.Put([]byte(name), []byte(id))
}

func getGroup(tx *bolt.Tx, id string) (picket.Group, bool, error) {
	v := tx.Bucket(bucketGroups).Get([]byte(id))
	if v == nil {
		return picket.Group{}, false, nil
	}
	var g picket.Group
	if err := json.Unmarshal(v, &g); err != nil {
		return picket.Group{}, false, fmt.Errorf("decode group %s: %w", id, err)
	}
	return g, true, nil
}

func mustGroup(tx *bolt.Tx, id string) (picket.Group, error) {
	g, ok, err := getGroup(tx, id)
	if err != nil {
		return g, err
	}
	if !ok {
		return g, fmt.Errorf("group %s: %w", id, errNoGroup)
	}
	return g, nil
}

// putGroup stores g; a group with work is on the open list.
func putGroup(tx *bolt.Tx, g picket.Group) error {
	v, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode group %s: %w", g.ID, err)
	}
	if err := tx.Bucket(bucketGroups).Put([]byte(g.ID), v); err != nil {
		return err
	}
	if g.Work() {
		return tx.Bucket(bucketGroupsOpen).Put([]byte(g.ID), nil)
	}
	return nil
}

// memberKey is group id, NUL, member number as 8-byte big-endian: members
// of a group sort together in joining order.
func memberKey(id string, n int) []byte {
	return binary.BigEndian.AppendUint64(memberPrefix(id), uint64(n))
}

func memberPrefix(id string) []byte {
	return append([]byte(id), 0)
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}

package bot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// rejection is why an inbound HTTP request was refused; its reason goes
// into the audit trail.
type rejection struct {
	status int
	reason string
}

func (r *rejection) Error() string { return r.reason }

// readVerified reads the request body (at most maxBody bytes) and checks
// its signature, timestamp and freshness. It returns the body, or a
// *rejection.
func (b *Bot) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &rejection{http.StatusRequestEntityTooLarge, "request body larger than 1 MiB"}
		}
		return nil, &rejection{http.StatusBadRequest, "unreadable request body"}
	}
	sig := r.Header.Get("X-Slack-Signature")
	stamp := r.Header.Get("X-Slack-Request-Timestamp")
	if sig == "" || stamp == "" {
		return body, &rejection{http.StatusUnauthorized, "missing signature headers"}
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return body, &rejection{http.StatusUnauthorized, "malformed request timestamp"}
	}
	// slack-go checks the window against the host clock; Picket checks it
	// against its own clock first so the rule holds whatever clock is
	// injected.
	sent := time.Unix(secs, 0)
	if d := b.now().Sub(sent); d.Abs() > signatureWindow {
		return body, &rejection{http.StatusUnauthorized, fmt.Sprintf("stale timestamp (%s from Picket's clock)", d.Round(time.Second))}
	}
	if b.secret == "" {
		return body, &rejection{http.StatusUnauthorized, "no signing secret configured"}
	}
	v, err := slack.NewSecretsVerifier(r.Header, b.secret)
	if err != nil {
		if errors.Is(err, slack.ErrExpiredTimestamp) {
			return body, &rejection{http.StatusUnauthorized, "stale timestamp (host clock)"}
		}
		return body, &rejection{http.StatusUnauthorized, "bad signature"}
	}
	if _, err := io.Copy(&v, bytes.NewReader(body)); err != nil {
		return body, &rejection{http.StatusUnauthorized, "bad signature"}
	}
	if err := v.Ensure(); err != nil {
		return body, &rejection{http.StatusUnauthorized, "bad signature"}
	}
	// Only verified requests enter the replay set, so it holds no more
	// than Slack sent in five minutes.
	if !b.replays.add(stamp+":"+sig, sent.Add(signatureWindow), b.now()) {
		return body, &rejection{http.StatusUnauthorized, "replayed request"}
	}
	return body, nil
}

// replaySet remembers the signatures of accepted requests until their
// timestamps leave the window, so the same signed request is accepted
// once.
type replaySet struct {
	mu      sync.Mutex
	seen    map[string]time.Time // key -> when it may be forgotten
	checked time.Time
}

func newReplaySet() *replaySet { return &replaySet{seen: map[string]time.Time{}} }

// add records key until expires and reports whether it was new.
func (s *replaySet) add(key string, expires, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.checked) > time.Second {
		for k, exp := range s.seen {
			if now.After(exp) {
				delete(s.seen, k)
			}
		}
		s.checked = now
	}
	if exp, ok := s.seen[key]; ok && !now.After(exp) {
		return false
	}
	s.seen[key] = expires
	return true
}

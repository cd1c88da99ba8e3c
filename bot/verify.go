package bot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Why a request was refused. Each is one of a fixed set, so counting them
// takes bounded memory and their audit record bounded space.
const (
	refusedMissingHeaders = "missing signature headers"
	refusedBadTimestamp   = "malformed request timestamp"
	refusedStale          = "stale timestamp"
	refusedNoSecret       = "no signing secret configured"
	refusedBadSignature   = "bad signature"
	refusedReplay         = "replayed request"
	refusedUnavailable    = "replay guard unavailable"
	refusedTooLarge       = "request body larger than 1 MiB"
	refusedUnreadable     = "unreadable request body"
	refusedMalformed      = "malformed signed request"
	refusedOtherTeam      = "other Slack workspace"
	refusedOtherApp       = "other Slack app"
	refusedNotOnAlert     = "button not on the finding's alert"
)

// rejection is why an inbound HTTP request was refused: an HTTP status,
// one of the refused* reasons, and a detail for the log only.
type rejection struct {
	status int
	reason string
	detail string
}

func (r *rejection) Error() string {
	if r.detail == "" {
		return r.reason
	}
	return r.reason + " (" + r.detail + ")"
}

func unauthorized(reason, detail string) *rejection {
	return &rejection{http.StatusUnauthorized, reason, detail}
}

// readVerified checks a request's signature headers and timestamp, then
// reads its body (at most maxBody bytes), checks the signature over it and
// that it was not seen before. It returns the body, or a *rejection and no
// body: nothing of an unverified request is parsed or used.
func (b *Bot) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	sig := r.Header.Get("X-Slack-Signature")
	stamp := r.Header.Get("X-Slack-Request-Timestamp")
	if sig == "" || stamp == "" {
		return nil, unauthorized(refusedMissingHeaders, "")
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return nil, unauthorized(refusedBadTimestamp, "")
	}
	// slack-go checks the window against the host clock; Picket checks it
	// against its own clock first so the rule holds whatever clock is
	// injected.
	sent := time.Unix(secs, 0)
	if d := b.now().Sub(sent); d.Abs() > signatureWindow {
		return nil, unauthorized(refusedStale, fmt.Sprintf("%s from Picket's clock", d.Round(time.Second)))
	}
	if b.secret == "" {
		return nil, unauthorized(refusedNoSecret, "")
	}
	v, err := slack.NewSecretsVerifier(r.Header, b.secret)
	if err != nil {
		if errors.Is(err, slack.ErrExpiredTimestamp) {
			return nil, unauthorized(refusedStale, "host clock")
		}
		return nil, unauthorized(refusedBadSignature, "malformed signature header")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &rejection{http.StatusRequestEntityTooLarge, refusedTooLarge, ""}
		}
		return nil, &rejection{http.StatusBadRequest, refusedUnreadable, ""}
	}
	if _, err := io.Copy(&v, bytes.NewReader(body)); err != nil {
		return nil, unauthorized(refusedBadSignature, "")
	}
	if err := v.Ensure(); err != nil {
		return nil, unauthorized(refusedBadSignature, "")
	}
	// Only verified requests enter the replay set, so it holds no more
	// than Slack sent in five minutes. The key is the MAC itself, which
	// covers the timestamp and the body; hex is case-insensitive, so it is
	// lower-cased: "v0=ABCD…" is the same signature as "v0=abcd…".
	if !b.replays.add(replayKey(sig), sent.Add(signatureWindow), b.now()) {
		return nil, unauthorized(refusedReplay, "")
	}
	if b.shared != nil {
		// Every request is its own owner, so a second take of the same
		// signature fails until the window has passed.
		var nonce [8]byte
		_, _ = rand.Read(nonce[:])
		fresh, err := b.shared.TakeLease("replay:"+replayKey(sig), "req:"+hex.EncodeToString(nonce[:]), b.now(), sent.Add(signatureWindow))
		if err != nil {
			// Cannot tell: refuse rather than risk acting on a replay;
			// Slack retries.
			b.log.Warn("shared replay guard unavailable; request refused", "err", err)
			return nil, &rejection{http.StatusServiceUnavailable, refusedUnavailable, ""}
		}
		if !fresh {
			return nil, unauthorized(refusedReplay, "")
		}
	}
	return body, nil
}

// replayKey is the canonical form of a verified "v0=<hex>" signature.
func replayKey(sig string) string {
	return strings.ToLower(strings.TrimPrefix(sig, "v0="))
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

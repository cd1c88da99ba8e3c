package enrich

import (
	"sync"
	"time"
)

// Lookup kinds, part of the cache key.
const (
	kindAlias    = "alias"
	kindUser     = "user"
	kindInstance = "instance"
)

// cacheKey names one lookup result. IAM is global, so user and alias keys
// have an empty region.
type cacheKey struct {
	account, region, kind, id string
}

type cacheEntry struct {
	value   any // string, picket.UserContext or picket.InstanceContext
	expires time.Time
}

// sweepAt is the cache size from which each put also drops expired
// entries, so the map stays bounded by what was looked up within one TTL.
const sweepAt = 1024

// cache keeps successful lookups for a TTL on an injected clock.
type cache struct {
	now func() time.Time
	ttl time.Duration

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

func newCache(now func() time.Time, ttl time.Duration) *cache {
	return &cache{now: now, ttl: ttl, entries: map[cacheKey]cacheEntry{}}
}

// get returns the value for k unless it is missing or expired. Callers must
// copy slices out of the value before handing it on.
func (c *cache) get(k cacheKey) (any, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		return nil, false
	}
	return e.value, true
}

// put stores v under k until the TTL passes. v must not be modified later.
func (c *cache) put(k cacheKey, v any) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= sweepAt {
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		}
	}
	c.entries[k] = cacheEntry{value: v, expires: now.Add(c.ttl)}
}

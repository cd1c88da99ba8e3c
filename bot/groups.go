package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// groupCache keeps which Slack user groups each user belongs to. One
// usergroups.list call answers for every user, so the whole list is cached
// and refreshed after ttl. The mutex is held during a refresh so that a
// burst of clicks makes one call, not one each.
type groupCache struct {
	api SlackAPI
	ttl time.Duration
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	byUser  map[string][]string
	fetched time.Time
}

// of returns the ids of the user groups userID belongs to.
func (c *groupCache) of(ctx context.Context, userID string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser == nil || c.now().Sub(c.fetched) >= c.ttl {
		groups, err := c.api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeUsers(true))
		if err != nil {
			return nil, fmt.Errorf("list user groups: %w", err)
		}
		byUser := map[string][]string{}
		for _, g := range groups {
			for _, u := range g.Users {
				byUser[u] = append(byUser[u], g.ID)
			}
		}
		c.byUser, c.fetched = byUser, c.now()
		c.log.Debug("refreshed Slack user groups", "groups", len(groups))
	}
	return append([]string(nil), c.byUser[userID]...), nil
}

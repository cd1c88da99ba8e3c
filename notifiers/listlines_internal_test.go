package notifiers

import (
	"strconv"
	"testing"
)

func TestListLines(t *testing.T) {
	item := func(i int) string { return "item " + strconv.Itoa(i) }
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, ""},
		{1, "item 0"},
		{maxListed, "item 0\nitem 1\nitem 2\nitem 3\nitem 4"},
		{maxListed + 1, "item 0\nitem 1\nitem 2\nitem 3\nitem 4\n…and 1 more"},
		{100000, "item 0\nitem 1\nitem 2\nitem 3\nitem 4\n…and 99995 more"},
	} {
		if got := listLines(tc.n, item); got != tc.want {
			t.Errorf("listLines(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

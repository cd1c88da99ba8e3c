package commands_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/picketsec/picket/commands"
)

func TestSplit(t *testing.T) {
	line := strings.Repeat("x", 99) // 100 runes with its newline
	longSection := strings.TrimSuffix(strings.Repeat(line+"\n", 70), "\n")
	many := make([]string, 120)
	for i := range many {
		many[i] = fmt.Sprintf("section %d", i)
	}
	tests := []struct {
		name      string
		in        commands.Reply
		maxChars  int
		wantParts int
		// wantSections, when not 0, is how many sections all parts hold.
		wantSections int
	}{
		{"fits", commands.Reply{Title: "t", Sections: []string{"a", "b"}}, 100, 1, 2},
		{"no sections", commands.Reply{Title: "t"}, 100, 1, 0},
		{"by characters", commands.Reply{Sections: []string{strings.Repeat("a", 60), strings.Repeat("b", 60), strings.Repeat("c", 60)}}, 100, 3, 3},
		{"two per message", commands.Reply{Sections: []string{strings.Repeat("a", 50), strings.Repeat("b", 50), "c"}}, 100, 2, 3},
		{"long section at lines", commands.Reply{Sections: []string{longSection}}, 12000, 1, 3},
		{"long section small max", commands.Reply{Sections: []string{longSection}}, 1000, 7, 7},
		{"block count", commands.Reply{Sections: many}, 100000, 3, 120},
		{"one huge line", commands.Reply{Sections: []string{strings.Repeat("y", 7000)}}, 12000, 1, 3},
		{"default max", commands.Reply{Sections: []string{strings.Repeat("z", 4000)}}, 0, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Public = true
			got := commands.Split(tt.in, tt.maxChars)
			if len(got) != tt.wantParts {
				t.Fatalf("parts: got %d, want %d", len(got), tt.wantParts)
			}
			limit := tt.maxChars
			if limit < 1 {
				limit = commands.MaxSectionChars
			}
			var joined []string
			for i, r := range got {
				if r.Title != tt.in.Title || !r.Public {
					t.Errorf("part %d: got title %q public %v, want %q true", i, r.Title, r.Public, tt.in.Title)
				}
				if len(r.Sections) > commands.MaxSections {
					t.Errorf("part %d: got %d sections, want at most %d", i, len(r.Sections), commands.MaxSections)
				}
				total := 0
				for _, s := range r.Sections {
					n := utf8.RuneCountInString(s)
					total += n
					if n > commands.MaxSectionChars || n == 0 {
						t.Errorf("part %d: section of %d characters, want 1 to %d", i, n, commands.MaxSectionChars)
					}
				}
				if total > limit {
					t.Errorf("part %d: got %d characters, want at most %d", i, total, limit)
				}
				joined = append(joined, r.Sections...)
			}
			if tt.wantSections != 0 && len(joined) != tt.wantSections {
				t.Errorf("sections: got %d, want %d", len(joined), tt.wantSections)
			}
			if tt.name == "long section at lines" {
				for i, s := range joined {
					if (utf8.RuneCountInString(s)+1)%100 != 0 {
						t.Errorf("section %d: %d characters, want whole lines", i, utf8.RuneCountInString(s))
					}
				}
			}
			// Nothing is lost: the pieces rejoin to the input, lines
			// separated by the newlines the cut removed.
			want := strings.ReplaceAll(strings.Join(tt.in.Sections, ""), "\n", "")
			if g := strings.ReplaceAll(strings.Join(joined, ""), "\n", ""); g != want {
				t.Errorf("content changed: got %d characters, want %d", len(g), len(want))
			}
		})
	}
}

func TestSplitKeepsEntities(t *testing.T) {
	// 2,998 runes then "&amp;": a cut at 3,000 would fall inside it.
	s := strings.Repeat("a", 2998) + "&amp;" + strings.Repeat("b", 10)
	got := commands.Split(commands.Reply{Sections: []string{s}}, 0)
	if len(got) != 2 {
		t.Fatalf("parts: got %d, want 2", len(got))
	}
	if first := got[0].Sections[0]; strings.Contains(first, "&") {
		t.Errorf("first part ends %q, want the cut before the entity", first[len(first)-5:])
	}
	if second := got[1].Sections[0]; !strings.HasPrefix(second, "&amp;") {
		t.Errorf("second part starts %q, want &amp;", second[:5])
	}
}

func BenchmarkSplit(b *testing.B) {
	sections := make([]string, 200)
	for i := range sections {
		sections[i] = strings.Repeat("line of text\n", 40)
	}
	r := commands.Reply{Title: "bench", Sections: sections}
	for b.Loop() {
		commands.Split(r, 12000)
	}
}

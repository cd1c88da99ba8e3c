package posture

import (
	"fmt"
	"slices"
	"strings"

	"github.com/picketsec/picket"
)

// maxListed is how many failing resources Text shows per check.
const maxListed = 10

// Text renders a report for a terminal: the score, then each section with
// its failures first, then errors, then passes; failing resources (the
// first ten) and the remediation link under each failure.
func Text(r picket.PostureReport) string {
	var b strings.Builder
	pass, fail, errs := counts(r)
	fmt.Fprintf(&b, "Posture of account %s", orDefault(r.Account, "(unknown)"))
	if len(r.Regions) > 0 {
		fmt.Fprintf(&b, " in %s", strings.Join(r.Regions, ", "))
	}
	if !r.Generated.IsZero() {
		fmt.Fprintf(&b, " at %s", r.Generated.UTC().Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(&b, "\nScore: %.0f%% (%d passed, %d failed, %d could not run)\n", r.Score(), pass, fail, errs)

	for _, section := range sectionOrder(r) {
		var rs []picket.CheckResult
		for _, c := range r.Results {
			if c.Section == section {
				rs = append(rs, c)
			}
		}
		slices.SortStableFunc(rs, func(a, b picket.CheckResult) int { return statusRank(a.Status) - statusRank(b.Status) })
		fmt.Fprintf(&b, "\n%s\n", orDefault(section, "Other"))
		for _, c := range rs {
			fmt.Fprintf(&b, "  %-5s %s: %s [%s]\n", strings.ToUpper(string(c.Status)), c.ID, c.Title, c.Severity)
			switch c.Status {
			case picket.CheckFail:
				for i, f := range c.Failing {
					if i == maxListed {
						fmt.Fprintf(&b, "        and %d more\n", len(c.Failing)-maxListed)
						break
					}
					fmt.Fprintf(&b, "        - %s\n", f)
				}
				if len(c.Failing) == 0 {
					for _, e := range c.Evidence {
						fmt.Fprintf(&b, "        - %s\n", e)
					}
				}
				fmt.Fprintf(&b, "        fix: %s\n", c.Remediation)
				if c.RemediationURL != "" {
					fmt.Fprintf(&b, "        %s\n", c.RemediationURL)
				}
			case picket.CheckError:
				fmt.Fprintf(&b, "        %s\n", c.Error)
			}
		}
	}
	return b.String()
}

func counts(r picket.PostureReport) (pass, fail, errs int) {
	for _, c := range r.Results {
		switch c.Status {
		case picket.CheckPass:
			pass++
		case picket.CheckFail:
			fail++
		default:
			errs++
		}
	}
	return pass, fail, errs
}

func statusRank(s picket.CheckStatus) int {
	switch s {
	case picket.CheckFail:
		return 0
	case picket.CheckError:
		return 1
	}
	return 2
}

// sectionOrder is the known sections in benchmark order, then any others
// in the order they appear.
func sectionOrder(r picket.PostureReport) []string {
	known := Sections()
	present := map[string]bool{}
	var extra []string
	for _, c := range r.Results {
		if !present[c.Section] && !slices.Contains(known, c.Section) {
			extra = append(extra, c.Section)
		}
		present[c.Section] = true
	}
	var out []string
	for _, s := range known {
		if present[s] {
			out = append(out, s)
		}
	}
	return append(out, extra...)
}

package commands

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	picket "github.com/picketsec/picket"
)

// AutoControl is the kill switch of automatic response rules.
// actions.Autopilot implements it.
type AutoControl interface {
	// Status returns the switch and every rule with its budget use.
	Status() (picket.AutoStatus, error)
	// SetSwitch turns automatic runs on or off for actor, durably and
	// audited, and returns the new state.
	SetSwitch(actor picket.Actor, on bool) (picket.AutoStatus, error)
}

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// runAuto answers /picket auto [status|on|off].
func runAuto(_ context.Context, d Deps, actor picket.Actor, _ Scope, args []string) (Reply, error) {
	if len(args) > 1 {
		return Reply{}, usagef("auto takes one word: status, on or off")
	}
	if d.Auto == nil {
		return Reply{}, unavailable("Automatic responses")
	}
	word := "status"
	if len(args) == 1 {
		word = strings.ToLower(args[0])
	}
	var st picket.AutoStatus
	var err error
	title := "Automatic responses"
	switch word {
	case "status":
		st, err = d.Auto.Status()
	case "on", "off":
		st, err = d.Auto.SetSwitch(actor, word == "on")
		title = "Automatic responses switched " + word
	default:
		return Reply{}, usagef("%q is not status, on or off", word)
	}
	if err != nil {
		return Reply{}, err
	}
	return Reply{Title: title, Sections: autoSections(st)}, nil
}

// autoSections draws the state of automatic responses: whether rules run,
// who last flipped the switch, and each rule.
func autoSections(st picket.AutoStatus) []string {
	var state string
	switch {
	case st.ConfigOff:
		state = ":no_entry: *Off* by the configuration (`automation.paused`); `" + Slash + " auto on` cannot override it."
	case st.Switch.Off:
		state = ":no_entry: *Off*: matching findings get a notice with Run buttons instead."
	default:
		state = ":white_check_mark: *On*: rules in auto mode run their actions, within their budgets."
	}
	if !st.Switch.At.IsZero() {
		verb := "on"
		if st.Switch.Off {
			verb = "off"
		}
		state += "\nLast switched " + verb + " by " + person(st.Switch.By) + " at " + stamp(st.Switch.At) + "."
	}
	out := []string{state}
	if len(st.Rules) == 0 {
		return append(out, "No automatic response rules are configured (`automation.rules`).")
	}
	var lines []string
	for _, r := range st.Rules {
		labels := make([]string, len(r.Actions))
		for i, k := range r.Actions {
			labels[i] = k.Label()
		}
		line := "• " + code(r.Name) + " · "
		if r.Enabled {
			line += "enabled"
		} else {
			line += "disabled"
		}
		line += " · " + escape(string(r.Mode)) + ": " + escape(strings.Join(labels, ", then "))
		if r.Mode == picket.AutoModeAuto {
			line += fmt.Sprintf(" · %d of %d this hour", r.LastHour, r.Budget)
		}
		lines = append(lines, line)
	}
	return append(out, "*Rules:*\n"+strings.Join(lines, "\n"))
}

// person names an actor: a Slack mention for a user id, else the name.
func person(a picket.Actor) string {
	if slackUserID.MatchString(a.ID) {
		return "<@" + a.ID + ">"
	}
	if a.Name != "" {
		return escape(a.Name)
	}
	return escape(a.ID)
}

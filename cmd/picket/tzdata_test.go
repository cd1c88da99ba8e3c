package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryEmbedsZoneDatabase checks the picket binary links time/tzdata,
// so digest time zones load in an image without /usr/share/zoneinfo.
func TestBinaryEmbedsZoneDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if !strings.Contains("\n"+string(out), "\ntime/tzdata\n") {
		t.Error("got a picket binary without time/tzdata, want the zone database embedded")
	}
}

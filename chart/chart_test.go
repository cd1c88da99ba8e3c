package chart_test

import (
	"bytes"
	"fmt"
	"image/png"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/chart"
)

func snaps(n int) []picket.DigestSnapshot {
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	var out []picket.DigestSnapshot
	for i := range n {
		var s picket.DigestSnapshot
		s.Day = day.AddDate(0, 0, i)
		s.Open[picket.SeverityCritical] = i % 4
		s.Open[picket.SeverityHigh] = 10 + i%7
		s.Open[picket.SeverityMedium] = 40 - i
		s.Open[picket.SeverityLow] = 3 * i
		out = append(out, s)
	}
	return out
}

func TestOpenBySeverityDecodes(t *testing.T) {
	for _, n := range []int{1, 2, 30} {
		t.Run(fmt.Sprintf("%d days", n), func(t *testing.T) {
			b, err := chart.OpenBySeverity("Open findings by severity, last 30 days", snaps(n))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("png.Decode: %v", err)
			}
			if got := img.Bounds().Dx(); got != 1000 {
				t.Errorf("width: got %d, want 1000", got)
			}
			if got := img.Bounds().Dy(); got != 500 {
				t.Errorf("height: got %d, want 500", got)
			}
			if len(b) < 5_000 || len(b) > 1_000_000 {
				t.Errorf("PNG size: got %d bytes, want between 5 kB and 1 MB", len(b))
			}
			// The Critical series' colour was drawn.
			red := 0
			for y := 0; y < img.Bounds().Dy(); y++ {
				for x := 0; x < img.Bounds().Dx(); x++ {
					r, g, bl, _ := img.At(x, y).RGBA()
					if r>>8 == 0xB0 && g>>8 == 0x15 && bl>>8 == 0x1E {
						red++
					}
				}
			}
			if red < 20 {
				t.Errorf("Critical-coloured pixels: got %d, want at least 20", red)
			}
		})
	}
}

func TestOpenBySeverityNoData(t *testing.T) {
	if _, err := chart.OpenBySeverity("x", nil); picket.ErrorCode(err) != picket.EINVALID {
		t.Errorf("no snapshots: got %v, want EINVALID", err)
	}
}

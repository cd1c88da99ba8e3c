package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/picketsec/picket"
)

// Size of the PNG: 1000 by 500 pixels at 100 dpi, wide enough to read in a
// Slack preview.
const (
	Width  = 10 * vg.Inch
	Height = 5 * vg.Inch
	DPI    = 100
)

// series draws Critical, High, Medium and Low, in the alert colours.
var series = []struct {
	sev   picket.Severity
	color color.RGBA
}{
	{picket.SeverityCritical, color.RGBA{0xB0, 0x15, 0x1E, 0xFF}},
	{picket.SeverityHigh, color.RGBA{0xE8, 0x74, 0x1B, 0xFF}},
	{picket.SeverityMedium, color.RGBA{0xD4, 0xA8, 0x1C, 0xFF}},
	{picket.SeverityLow, color.RGBA{0x2E, 0x86, 0xDE, 0xFF}},
}

// OpenBySeverity draws the open findings of each severity (Critical, High,
// Medium, Low) over the snapshots' days as a PNG line chart. Snapshots
// must be in day order; days without a snapshot are skipped, not drawn as
// zero. At least one snapshot is needed.
func OpenBySeverity(title string, snaps []picket.DigestSnapshot) ([]byte, error) {
	if len(snaps) == 0 {
		return nil, picket.Errorf(picket.EINVALID, "draw chart: no snapshots")
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "open findings"
	p.Y.Min = 0
	p.X.Tick.Marker = plot.TimeTicks{Format: "02 Jan", Ticker: dayTicker{}}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	maxY := 1.0
	for _, s := range series {
		pts := make(plotter.XYs, len(snaps))
		for i, snap := range snaps {
			pts[i].X = float64(snap.Day.Unix())
			pts[i].Y = float64(snap.Open[s.sev])
			maxY = max(maxY, pts[i].Y)
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("draw chart: %s series: %w", s.sev, err)
		}
		line.Color = s.color
		line.Width = vg.Points(2)
		points.Color = s.color
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(s.sev.String(), line, points)
	}
	p.Y.Max = maxY * 1.1
	if len(snaps) == 1 { // give a single day some width
		x := float64(snaps[0].Day.Unix())
		p.X.Min, p.X.Max = x-12*3600, x+12*3600
	}

	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("draw chart: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// dayTicker puts a tick at midnight UTC every few days, at most about ten.
type dayTicker struct{}

// Ticks returns ticks for the range [lo, hi] of Unix seconds.
func (dayTicker) Ticks(lo, hi float64) []plot.Tick {
	const day = 24 * 3600
	span := (hi - lo) / day
	step := 1
	for span/float64(step) > 10 {
		step++
	}
	start := time.Unix(int64(lo), 0).UTC().Truncate(24 * time.Hour)
	var ticks []plot.Tick
	for t := start; float64(t.Unix()) <= hi; t = t.AddDate(0, 0, step) {
		if float64(t.Unix()) < lo {
			continue
		}
		ticks = append(ticks, plot.Tick{Value: float64(t.Unix()), Label: t.Format("02 Jan")})
	}
	return ticks
}

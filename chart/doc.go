// Package chart draws the digest's trend chart: open findings by severity
// over the last days, as a PNG, with gonum.org/v1/plot (pure Go, so the
// binary still builds with CGO_ENABLED=0). It is the only package that
// imports the plotting library.
package chart

// Package triage decides what a finding means to people: whether it is new,
// a newer version of one already shown (update the message in place), an
// older or repeated delivery (ignore), below every routing threshold (record
// but do not post), and which channel it goes to. Pipeline ties those
// decisions to the store, the enricher and the sender through the root
// package's interfaces; it imports nothing but the root package and the
// standard library.
package triage

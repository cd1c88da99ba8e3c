// Package fauxqs starts the fauxqs SNS+SQS emulator for tests and points the
// AWS SDK at it, so code that talks to SQS and SNS is tested against real
// queue semantics (long polling, visibility timeouts, redrive to a DLQ, SNS
// envelopes and raw delivery) without reaching AWS.
//
// The emulator is the npm package fauxqs, pinned in test/emulator/package.json
// and started by test/emulator/launch.mjs on 127.0.0.1 with a free port. Run
//
//	npm ci --prefix test/emulator
//
// once to install it. Without node or the installed package, Start skips the
// test, unless PICKET_REQUIRE_EMULATOR=1 is set (as `make test` and CI do),
// in which case it fails the test so a missing emulator never passes silently.
//
// Every Emulator is private to the test that started it and is stopped by
// that test's cleanup. The launcher also exits when its standard input
// closes, so a test binary that dies never leaves an emulator running.
package fauxqs

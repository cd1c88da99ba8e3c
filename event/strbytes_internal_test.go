package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzStrBytes checks the string decoder against encoding/json: for any
// contents, as a string alone and as the SNS Message inside an object (the
// big hint), it accepts what encoding/json accepts, with the same bytes, and
// stops right after the closing quote.
func FuzzStrBytes(f *testing.F) {
	for _, s := range []string{``, `plain`, `{\"a\":\"b\\\\c\"}`, `\u00e9\ud83d\ude00\n\t\/`, `\ud800x`, `12345678\"12345678`,
		`0123456789abcdef0123456789abcdef`, "caf\u00e9 \u2028", `\x`, "ctl\x01", `tail\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, contents []byte) {
		if !utf8.Valid(contents) {
			return // encoding/json replaces invalid UTF-8; the scanner keeps it
		}
		lit := append(append([]byte{'"'}, contents...), '"')
		// The contents may close the string early: read one value, as the
		// scanner does, and note where it ends.
		var want string
		dec := json.NewDecoder(bytes.NewReader(lit))
		wantErr := dec.Decode(&want)
		wantEnd := int(dec.InputOffset())
		for _, big := range []bool{false, true} {
			data := lit
			if big {
				data = append(append([]byte(`{"Message":`), lit...), `,"Type":"Notification"}`...)
			}
			s := scanner{data: data}
			if big {
				s.pos = len(`{"Message":`)
			}
			got, _ := s.strBytesHint(big)
			switch {
			case wantErr != nil && !big && !s.failed():
				// With big, an unterminated literal runs on into what
				// follows it, so only the literal alone must fail.
				t.Errorf("big %v: got %q, want an error like encoding/json's %v", big, got, wantErr)
			case wantErr == nil && s.failed():
				t.Errorf("big %v: got error %s, want %q", big, s.err, want)
			case wantErr == nil && !bytes.Equal(got, []byte(want)):
				t.Errorf("big %v: got %q, want %q", big, got, want)
			case wantErr == nil && s.pos != len(`{"Message":`)*btoi(big)+wantEnd:
				t.Errorf("big %v: got position %d after the string, want its end", big, s.pos)
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

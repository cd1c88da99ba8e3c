package event

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
// AWS events nest a dozen levels at most.
const maxDepth = 1000

// scanner is a validating, pull-style JSON reader over one byte slice.
//
// It exists because encoding/json needs 70-100 us and 47 allocations to
// read an SNS-wrapped 3.5 KB GuardDuty event on the target machine (three
// passes; see BenchmarkDecode) while the pipeline budget for decoding is
// well under 15 us. The scanner reads only the fields a finding needs,
// returns strings without escapes as sub-slices of the input, and still
// checks the full JSON grammar of everything it skips, so a truncated or
// templated sample is rejected wherever the damage is.
//
// The first error sticks: afterwards every read returns a zero value and
// every loop ends, so parsing code can stay straight-line and check err once.
type scanner struct {
	data  []byte
	pos   int
	depth int
	err   string // first error, "" while all is well

	// ctx and idx name what is being read ("Security Hub finding", 2) so
	// that an error says where it is: "Security Hub finding 2: ...".
	ctx string
	idx int
}

// strPlain marks the bytes that may appear unescaped inside a JSON string
// without ending it or needing attention.
var strPlain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = true
	}
	t['"'] = false
	t['\\'] = false
	return t
}()

// nextSpecial returns the index of the first byte at or after i that is a
// quote, a backslash or a control character, or len(d). It tests eight
// bytes at a time: most of a JSON document is string contents.
func nextSpecial(d []byte, i int) int {
	for ; i+8 <= len(d); i += 8 {
		if specialBytes(binary.LittleEndian.Uint64(d[i:])) != 0 {
			break
		}
	}
	for i < len(d) && strPlain[d[i]] {
		i++
	}
	return i
}

// specialBytes returns zero when none of the eight bytes of x (read little
// endian) is a quote, a backslash or a control character; otherwise the
// lowest set bit is the high bit of the first such byte. Each term is
// non-zero when some byte is below 0x20, a quote or a backslash (the "has
// less than" and "has zero byte" tricks); a borrow can flag a later byte
// too, but never an earlier one.
func specialBytes(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x | (q-lo)&^q | (b-lo)&^b) & hi
}

func (s *scanner) failed() bool { return s.err != "" }

// fail records msg as the error unless one is recorded already.
func (s *scanner) fail(msg string) {
	switch {
	case s.err != "":
	case s.ctx != "" && s.idx > 0:
		s.err = s.ctx + " " + strconv.Itoa(s.idx) + ": " + msg
	case s.ctx != "":
		s.err = s.ctx + ": " + msg
	default:
		s.err = msg
	}
}

// syntaxf records a syntax error at the current position, in the words
// encoding/json uses, so that people recognise it.
func (s *scanner) syntaxf(format string, args ...any) {
	if s.err == "" {
		s.fail(fmt.Sprintf("invalid JSON at byte %d: ", s.pos) + fmt.Sprintf(format, args...))
	}
}

// typeErr records that field holds the wrong kind of JSON value.
func (s *scanner) typeErr(field, want string) {
	if s.err == "" {
		s.fail(fmt.Sprintf("%s is %s, want %s", field, s.kindName(), want))
	}
}

// valueErr records that field holds a value of the right type that makes
// no sense.
func (s *scanner) valueErr(field string, v []byte, why string) {
	if s.err == "" {
		s.fail(fmt.Sprintf("%s %s: %s", field, quoteShort(v), why))
	}
}

// quoteShort quotes at most 64 bytes of v for an error message.
func quoteShort(v []byte) string {
	if len(v) > 64 {
		return strconv.Quote(string(v[:64])) + "..."
	}
	return strconv.Quote(string(v))
}

// kindName names the JSON value at the current position for type errors.
func (s *scanner) kindName() string {
	switch s.peek() {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "missing"
	}
	return "a number"
}

func (s *scanner) unexpectedEOF() {
	s.fail("invalid JSON: unexpected end of input (truncated?)")
}

// ws skips white space.
func (s *scanner) ws() {
	d, i := s.data, s.pos
	for i < len(d) {
		c := d[i]
		if c > ' ' || c != ' ' && c != '\n' && c != '\t' && c != '\r' {
			break
		}
		i++
	}
	s.pos = i
}

// peek returns the next significant byte, or 0 at the end of input or after
// an error.
func (s *scanner) peek() byte {
	if s.err != "" {
		return 0
	}
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// badChar reports an unexpected character (or end of input) at pos.
func (s *scanner) badChar(context string) {
	if s.pos >= len(s.data) {
		s.unexpectedEOF()
		return
	}
	s.syntaxf("invalid character %s %s", s.charAt(s.pos), context)
}

// charAt quotes the character at i for an error message, decoding UTF-8 so
// that a curly quote shows as itself rather than as its first byte.
func (s *scanner) charAt(i int) string {
	c := s.data[i]
	if c < utf8.RuneSelf {
		return quoteChar(c)
	}
	r, n := utf8.DecodeRune(s.data[i:])
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q (%U)", r, r)
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.Quote(string(rune(c)))
	}
	return "'" + string(rune(c)) + "'"
}

// end checks that nothing but white space follows the top-level value.
func (s *scanner) end() {
	if s.err != "" {
		return
	}
	s.ws()
	if s.pos < len(s.data) {
		s.syntaxf("invalid character %s after top-level value", s.charAt(s.pos))
	}
}

// object starts reading an object and reports whether a key follows. It
// consumes null (returning false); any other non-object is a type error
// naming field. Use as:
//
//	for more := s.object(f); more; more = s.more() { key := s.key(); ... }
func (s *scanner) object(field string) bool {
	switch s.peek() {
	case '{':
	case 'n':
		s.literal("null")
		return false
	case 0:
		s.unexpectedEOF()
		return false
	default:
		s.typeErr(field, "an object")
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		s.syntaxf("nested deeper than %d levels", maxDepth)
		return false
	}
	s.pos++
	switch s.peek() {
	case '"':
		return true
	case '}':
		s.pos++
		s.depth--
		return false
	}
	s.badChar("looking for beginning of object key string")
	return false
}

// more consumes the separator after an object member and reports whether
// another key follows.
func (s *scanner) more() bool {
	switch s.peek() {
	case ',':
		s.pos++
		if s.peek() == '"' {
			return true
		}
		s.badChar("looking for beginning of object key string")
	case '}':
		s.pos++
		s.depth--
	default:
		s.badChar("after object key:value pair")
	}
	return false
}

// key reads an object key and the colon after it. The returned slice
// aliases the input unless the key had escapes.
func (s *scanner) key() []byte {
	k, _ := s.strBytes()
	if s.peek() != ':' {
		s.badChar("after object key")
		return nil
	}
	s.pos++
	return k
}

// array starts reading an array and reports whether an element follows. It
// consumes null (returning false); any other non-array is a type error.
func (s *scanner) array(field string) bool {
	switch s.peek() {
	case '[':
	case 'n':
		s.literal("null")
		return false
	case 0:
		s.unexpectedEOF()
		return false
	default:
		s.typeErr(field, "an array")
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		s.syntaxf("nested deeper than %d levels", maxDepth)
		return false
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return false
	}
	return !s.failed()
}

// next consumes the separator after an array element and reports whether
// another element follows.
func (s *scanner) next() bool {
	switch s.peek() {
	case ',':
		s.pos++
		return true
	case ']':
		s.pos++
		s.depth--
	default:
		s.badChar("after array element")
	}
	return false
}

// literal consumes the literal word (true, false or null).
func (s *scanner) literal(word string) {
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return
	}
	for i := 1; i < len(word); i++ {
		s.pos++
		if s.pos >= len(s.data) {
			s.unexpectedEOF()
			return
		}
		if s.data[s.pos] != word[i] {
			s.badChar("in literal " + word + " (expecting " + quoteChar(word[i]) + ")")
			return
		}
	}
}

// skip consumes one value of any type, checking its syntax.
func (s *scanner) skip() {
	switch c := s.peek(); c {
	case '"':
		s.skipString()
	case '{':
		for more := s.object(""); more; more = s.more() {
			s.key()
			s.skip()
		}
	case '[':
		for more := s.array(""); more; more = s.next() {
			s.skip()
		}
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	case 0:
		if !s.failed() {
			s.unexpectedEOF()
		}
	default:
		if c == '-' || c >= '0' && c <= '9' {
			s.number()
			return
		}
		s.badChar("looking for beginning of value")
	}
}

// skipString consumes a string, checking escapes and control characters.
func (s *scanner) skipString() {
	d := s.data
	i := s.pos + 1
	for {
		i = nextSpecial(d, i)
		if i >= len(d) {
			s.pos = i
			s.unexpectedEOF()
			return
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return
		case c == '\\':
			s.pos = i
			if _, i = s.escape(); i < 0 {
				return
			}
		default:
			s.pos = i
			s.syntaxf("invalid character %s in string literal", s.charAt(i))
			return
		}
	}
}

// strBytes reads a string at the current position and returns its contents
// with escapes decoded. A string without escapes is returned as a sub-slice
// of the input; one with escapes is decoded into a new slice (second result
// true).
func (s *scanner) strBytes() ([]byte, bool) {
	return s.strBytesHint(false)
}

// strBytesHint is strBytes; big says the string is expected to fill most of
// the rest of the input (the SNS Message), so that sizing its buffer by the
// rest of the input beats scanning it twice.
func (s *scanner) strBytesHint(big bool) ([]byte, bool) {
	if s.peek() != '"' {
		if !s.failed() {
			s.badChar("looking for beginning of string")
		}
		return nil, false
	}
	d := s.data
	start := s.pos + 1
	i := nextSpecial(d, start)
	if i < len(d) && d[i] == '"' {
		s.pos = i + 1
		return d[start:i], false
	}
	// Slow path: escapes (or an error). Find the end first so that the
	// buffer is allocated once (the SNS Message is a 3 KB string full of
	// escaped quotes); decoding never makes a string longer.
	end := i
	if big {
		end = len(d)
	}
	for end < len(d) {
		end = nextSpecial(d, end)
		if end >= len(d) || d[end] == '"' {
			break
		}
		if d[end] == '\\' {
			end++
		}
		end++
	}
	if end > len(d) {
		end = len(d)
	}
	buf := make([]byte, end-start)
	n := copy(buf, d[start:i])
	for i < end {
		c := d[i]
		if strPlain[c] {
			// Copy eight bytes at a time up to the next special one: store
			// the whole word and keep the bytes before that one. buf has
			// room for the word, as n <= i-start and len(buf) >= end-start.
			// An embedded document escapes every quote, so runs are short
			// and one pass beats finding each run first and copying it
			// after.
			if i+8 <= end && n+8 <= len(buf) {
				x := binary.LittleEndian.Uint64(d[i:])
				binary.LittleEndian.PutUint64(buf[n:], x)
				k := 8
				if m := specialBytes(x); m != 0 {
					k = bits.TrailingZeros64(m) / 8 // at least 1: c is plain
				}
				n += k
				i += k
				continue
			}
			buf[n] = c
			n++
			i++
			continue
		}
		if c == '\\' && i+1 < end {
			// The escapes an embedded JSON document is made of.
			switch d[i+1] {
			case '"', '\\', '/':
				buf[n] = d[i+1]
				n++
				i += 2
				continue
			}
		}
		if c == '\\' {
			s.pos = i
			r, next := s.escape()
			if next < 0 {
				return nil, false
			}
			if r < utf8.RuneSelf {
				buf[n] = byte(r)
				n++
			} else {
				n += utf8.EncodeRune(buf[n:], r)
			}
			i = next
			continue
		}
		if c == '"' { // only when big: end was not known
			s.pos = i + 1
			return buf[:n], true
		}
		s.pos = i
		s.syntaxf("invalid character %s in string literal", s.charAt(i))
		return nil, false
	}
	if end >= len(d) {
		s.pos = len(d)
		s.unexpectedEOF()
		return nil, false
	}
	s.pos = end + 1
	return buf[:n], true
}

// escape decodes the escape sequence at pos (which holds the backslash)
// and returns the character and the index after the sequence, or -1 after
// recording an error.
func (s *scanner) escape() (rune, int) {
	d := s.data
	i := s.pos + 1
	if i >= len(d) {
		s.pos = i
		s.unexpectedEOF()
		return 0, -1
	}
	switch d[i] {
	case '"', '\\', '/':
		return rune(d[i]), i + 1
	case 'b':
		return '\b', i + 1
	case 'f':
		return '\f', i + 1
	case 'n':
		return '\n', i + 1
	case 'r':
		return '\r', i + 1
	case 't':
		return '\t', i + 1
	case 'u':
		r, n := s.hex4(i + 1)
		if n < 0 {
			return 0, -1
		}
		if !utf16.IsSurrogate(r) {
			return r, n
		}
		// A pair is two escapes; a lone half becomes U+FFFD, as in
		// encoding/json.
		if n+1 < len(d) && d[n] == '\\' && d[n+1] == 'u' {
			r2, n2 := s.hex4(n + 2)
			if n2 < 0 {
				return 0, -1
			}
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, n2
			}
		}
		return utf8.RuneError, n
	}
	s.pos = i
	s.syntaxf("invalid character %s in string escape code", s.charAt(i))
	return 0, -1
}

// hex4 decodes the four hex digits at i.
func (s *scanner) hex4(i int) (rune, int) {
	d := s.data
	var r rune
	for k := 0; k < 4; k++ {
		if i+k >= len(d) {
			s.pos = i + k
			s.unexpectedEOF()
			return 0, -1
		}
		c := d[i+k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			s.pos = i + k
			s.syntaxf("invalid character %s in \\u hexadecimal character escape", quoteChar(d[i+k]))
			return 0, -1
		}
		r = r<<4 | rune(c)
	}
	return r, i + 4
}

// number consumes a number, checks its grammar and returns its bytes.
func (s *scanner) number() []byte {
	d := s.data
	start := s.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func(context string) bool {
		if i >= len(d) {
			s.pos = i
			s.unexpectedEOF()
			return false
		}
		if d[i] < '0' || d[i] > '9' {
			s.pos = i
			s.badChar(context)
			return false
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return true
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else if !digits("in numeric literal") {
		return nil
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits("after decimal point in numeric literal") {
			return nil
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits("in exponent of numeric literal") {
			return nil
		}
	}
	s.pos = i
	return d[start:i]
}

// str reads a string field; null reads as "". Invalid UTF-8 is replaced by
// U+FFFD so that nothing downstream has to care.
func (s *scanner) str(field string) string {
	b := s.strField(field)
	if b == nil {
		return ""
	}
	return toString(b)
}

// strField reads a string field as bytes; null and errors read as nil. The
// bytes alias the input unless the string had escapes.
func (s *scanner) strField(field string) []byte {
	switch s.peek() {
	case '"':
		b, _ := s.strBytes()
		return b
	case 'n':
		s.literal("null")
	case 0:
		s.unexpectedEOF()
	default:
		s.typeErr(field, "a string")
	}
	return nil
}

func toString(b []byte) string {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			if !utf8.Valid(b) {
				return strings.ToValidUTF8(string(b), "\uFFFD")
			}
			break
		}
	}
	return string(b)
}

// float reads a number field; null reads as 0.
func (s *scanner) float(field string) float64 {
	switch c := s.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		b := s.number()
		if b == nil {
			return 0
		}
		if v, ok := smallInt(b); ok {
			return float64(v)
		}
		v, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			s.valueErr(field, b, "out of range")
		}
		return v
	case c == 'n':
		s.literal("null")
	case c == 0:
		s.unexpectedEOF()
	default:
		s.typeErr(field, "a number")
	}
	return 0
}

// int reads an integer field; null reads as 0.
func (s *scanner) int(field string) int {
	switch c := s.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		b := s.number()
		if b == nil {
			return 0
		}
		v, ok := smallInt(b)
		if !ok {
			s.valueErr(field, b, "want a whole number")
		}
		return v
	case c == 'n':
		s.literal("null")
	case c == 0:
		s.unexpectedEOF()
	default:
		s.typeErr(field, "a number")
	}
	return 0
}

// smallInt parses an optionally negative run of at most 15 digits.
func smallInt(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// bool reads a boolean field; null reads as false. The string forms "true"
// and "false" are accepted too, because AWS flattens GuardDuty fields to
// strings in some places.
func (s *scanner) bool(field string) bool {
	switch s.peek() {
	case 't':
		s.literal("true")
		return true
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	case '"':
		b, _ := s.strBytes()
		switch string(b) {
		case "true":
			return true
		case "false", "":
		default:
			s.valueErr(field, b, "want true or false")
		}
	case 0:
		s.unexpectedEOF()
	default:
		s.typeErr(field, "a boolean")
	}
	return false
}

// time reads an RFC 3339 timestamp field; null and "" read as the zero
// time.
func (s *scanner) time(field string) time.Time {
	b := s.strField(field)
	if len(b) == 0 {
		return time.Time{}
	}
	t, ok := parseTime(b)
	if !ok {
		s.valueErr(field, b, "not an RFC 3339 timestamp")
	}
	return t
}

// parseTime parses an RFC 3339 timestamp with or without fractional seconds
// and returns it in UTC. It avoids time.Parse because that needs a string
// and allocates a zone for numeric offsets.
func parseTime(b []byte) (time.Time, bool) {
	num := func(p []byte) (int, bool) {
		v := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' ||
		(b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i <= 9 {
				nsec = nsec*10 + int(rest[i]-'0')
			}
			i++
		}
		if i == 1 {
			return time.Time{}, false
		}
		for k := i; k <= 9; k++ {
			nsec *= 10
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(rest[1:3])
		om, ok2 := num(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

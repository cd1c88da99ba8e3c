package event

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/picketsec/picket"
)

// EventBridge detail-types this package knows.
const (
	detailGuardDuty     = "GuardDuty Finding"
	detailImported      = "Security Hub Findings - Imported"
	detailCustomAction  = "Security Hub Findings - Custom Action"
	detailLegacyFinding = "Security Hub Findings" // pre-2019 name of Imported, same shape
	detailImportedV2    = "Findings Imported V2"  // Security Hub v2, OCSF
)

// Decoder decodes SQS message bodies with the checks that make a message
// trusted. The zero Decoder is what Decode uses.
type Decoder struct {
	// TopicARN, when set, is the only SNS topic whose envelopes are
	// accepted: an SNS notification from another topic, or without a
	// TopicArn, is refused with picket.EUNTRUSTED.
	TopicARN string
	// EventsOnly refuses bare findings and GetFindings responses
	// (picket.EUNTRUSTED): on the queue, only AWS delivers findings, and it
	// always wraps them in an EventBridge event.
	EventsOnly bool
}

// Decode turns one SQS message body into findings as the package-level
// Decode does, with d's checks.
func (d Decoder) Decode(body []byte) ([]picket.Finding, error) {
	return decodeDoc(&d, body, false, false)
}

// Event sources that may send each kind of finding event: GuardDuty sends
// "GuardDuty Finding", Security Hub (CSPM and v2) the Security Hub ones.
const (
	sourceGuardDuty   = "aws.guardduty"
	sourceSecurityHub = "aws.securityhub"
)

// Decode turns one SQS message body into findings.
//
// The body may be an SNS envelope whose Message holds an EventBridge event,
// the EventBridge event itself (raw message delivery), or, for replaying
// saved findings, a bare GuardDuty finding, a bare ASFF finding, a Security
// Hub GetFindings response ({"Findings": [...]}) or a GuardDuty GetFindings
// response ({"findings": [...]}).
//
// Every error is a *picket.Error: EINVALID for malformed input (its message
// says what and where), ENOTFINDING for well-formed input that carries no
// finding (its message says what it is instead), EUNSUPPORTED for Security
// Hub v2 findings of an OCSF class other than Detection, Vulnerability and
// Compliance Finding, EUNTRUSTED for a finding event whose source is not
// the AWS service that sends it. Decode does not retain body: each
// Finding.Raw is a copy.
func Decode(body []byte) ([]picket.Finding, error) {
	return decodeDoc(&Decoder{}, body, false, false)
}

// Error helpers: every error Decode returns is built by one of these.
func invalidf(format string, args ...any) error {
	return picket.Errorf(picket.EINVALID, format, args...)
}

func notFindingf(format string, args ...any) error {
	return picket.Errorf(picket.ENOTFINDING, format, args...)
}

func unsupportedf(format string, args ...any) error {
	return picket.Errorf(picket.EUNSUPPORTED, format, args...)
}

func untrustedf(format string, args ...any) error {
	return picket.Errorf(picket.EUNTRUSTED, format, args...)
}

// Top-level keys whose presence tells one document shape from another.
const (
	keyTopicArn uint32 = 1 << iota
	keyMessageID
	keyProductArn
	keyResource
	keyService
	keyFindingArn
	keyMacie
	keySns
	keyBody
)

var flagKeys = map[string]uint32{
	"TopicArn":              keyTopicArn,
	"MessageId":             keyMessageID,
	"ProductArn":            keyProductArn,
	"resource":              keyResource,
	"service":               keyService,
	"findingArn":            keyFindingArn,
	"classificationDetails": keyMacie,
	"policyDetails":         keyMacie,
	"Sns":                   keySns,
	"body":                  keyBody,
}

// span locates a value inside the document being decoded.
type span struct{ start, end int }

func (p span) ok() bool { return p.end > p.start }

// eventInfo is what the envelope around a finding tells about it.
type eventInfo struct {
	id, account, region string
	customAction        string
	// resources is the event's resources array, read only for native
	// events of services other than GuardDuty.
	resources []string
}

// doc is what one pass over a top-level object found.
type doc struct {
	flags    uint32
	keys     [5][]byte
	nkeys    int
	snsType  span
	topicARN span
	message  []byte
	msgOwned bool
	msgSeen  bool

	detailType    string
	hasDetailType bool
	source, id    span
	account       span
	region        span
	resources     span
	detail        span
	records       span
	messages      span
	upperFindings span // "Findings": Security Hub GetFindings
	lowerFindings span // "findings": GuardDuty GetFindings

	// Set when detail was parsed in place because detail-type came first,
	// as it does in events AWS delivers.
	detailDone bool
	gd         gdFinding
	asff       []asffFinding
	action     []byte
}

// decodeDoc decodes one JSON document. owned says whether data belongs to
// the decoder (then Raw may alias it); inSNS whether data is an SNS Message.
func decodeDoc(dec *Decoder, data []byte, owned, inSNS bool) ([]picket.Finding, error) {
	s := scanner{data: data}
	switch c := s.peek(); c {
	case '{':
	case 0:
		return nil, invalidf("empty input: want a JSON object")
	default:
		s.skip()
		s.end()
		if s.failed() {
			return nil, invalidf("not a JSON object: %s", s.err)
		}
		return nil, notFindingf("JSON %s is not an SNS envelope, an EventBridge event or a finding", s2kind(c))
	}

	var d doc
	for more := s.object(""); more; more = s.more() {
		k := s.key()
		if d.nkeys < len(d.keys) {
			d.keys[d.nkeys] = k
			d.nkeys++
		}
		switch string(k) {
		case "Type":
			d.snsType = rawSpan(&s)
		case "TopicArn":
			d.flags |= keyTopicArn
			d.topicARN = rawSpan(&s)
		case "Message":
			if s.peek() == '"' {
				var escaped bool
				d.message, escaped = s.strBytesHint(true)
				d.msgOwned = escaped || owned
				d.msgSeen = true
			} else {
				s.skip()
			}
		case "detail-type":
			d.detailType = s.str("detail-type")
			d.hasDetailType = true
		case "source":
			d.source = rawSpan(&s)
		case "id":
			d.id = rawSpan(&s)
		case "account":
			d.account = rawSpan(&s)
		case "region":
			d.region = rawSpan(&s)
		case "resources":
			d.resources = rawSpan(&s)
		case "detail":
			if d.hasDetailType && parsesDetail(d.detailType) {
				if err := parseDetail(&s, &d); err != nil {
					return nil, err // the scanner stopped mid-detail
				}
				d.detailDone = true
			} else {
				d.detail = rawSpan(&s)
			}
		case "Records":
			d.records = rawSpan(&s)
		case "Messages":
			d.messages = rawSpan(&s)
		case "Findings":
			d.upperFindings = rawSpan(&s)
		case "findings":
			d.lowerFindings = rawSpan(&s)
		default:
			d.flags |= flagKeys[string(k)]
			s.skip()
		}
	}
	s.end()
	if s.failed() {
		return nil, invalidf("%s", s.err)
	}

	switch {
	case d.snsType.ok() && (d.msgSeen || d.flags&(keyTopicArn|keyMessageID) != 0):
		if inSNS {
			return nil, notFindingf("SNS message holds another SNS envelope")
		}
		return decodeSNS(dec, &s, &d)
	case d.hasDetailType:
		return decodeEvent(&s, &d, owned)
	case d.detail.ok():
		return nil, invalidf("EventBridge event has no detail-type (keys %s)", keyList(&d))
	case d.records.ok():
		return nil, notFindingf("%s", recordsReason(data, d.records))
	case d.messages.ok():
		return nil, notFindingf("SQS ReceiveMessage response: send each message's Body")
	case dec.EventsOnly && (d.upperFindings.ok() || d.lowerFindings.ok() || d.flags&keyProductArn != 0 ||
		d.flags&keyResource != 0 && d.flags&keyService != 0 || d.flags&(keyMacie|keyFindingArn) != 0):
		return nil, untrustedf("a bare finding or GetFindings response is not accepted here: AWS delivers findings in EventBridge events")
	case d.upperFindings.ok():
		return decodeFindingList(data, d.upperFindings, owned, false)
	case d.lowerFindings.ok():
		return decodeFindingList(data, d.lowerFindings, owned, true)
	case d.flags&keyProductArn != 0:
		return decodeBare(data, owned, false)
	case d.flags&keyResource != 0 && d.flags&keyService != 0:
		return decodeBare(data, owned, true)
	case d.flags&keyMacie != 0:
		return decodeMacie(data, &eventInfo{})
	case d.flags&keyFindingArn != 0:
		return decodeInspector(data, &eventInfo{})
	}
	if r := otherFinding(d.flags); r != "" {
		return nil, notFindingf("%s", r)
	}
	return nil, notFindingf("JSON object with keys %s is not an SNS envelope, an EventBridge event or a finding", keyList(&d))
}

// rawSpan skips one value and returns where it was.
func rawSpan(s *scanner) span {
	s.ws()
	start := s.pos
	s.skip()
	return span{start, s.pos}
}

// spanString decodes the JSON string at p ("" when p is empty or null).
func spanString(data []byte, p span, field string) (string, error) {
	if !p.ok() {
		return "", nil
	}
	s := scanner{data: data[:p.end], pos: p.start}
	v := s.str(field)
	if s.failed() {
		return "", invalidf("%s", s.err)
	}
	return v, nil
}

// s2kind names the JSON value that starts with c.
func s2kind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// keyList lists the first keys of the object for an error message.
func keyList(d *doc) string {
	var b strings.Builder
	for i := 0; i < d.nkeys; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteShort(d.keys[i]))
	}
	if d.nkeys == len(d.keys) {
		b.WriteString(", ...")
	}
	if d.nkeys == 0 {
		return "(none)"
	}
	return b.String()
}

// otherFinding names findings of services Picket does not handle natively.
func otherFinding(flags uint32) string {
	switch {
	case flags&keyFindingArn != 0:
		return "Inspector ListFindings response: replay each finding on its own"
	case flags&keyMacie != 0:
		return "Macie GetFindings response: replay each finding on its own"
	}
	return ""
}

// recordsReason explains a Lambda-style {"Records": [...]} event.
func recordsReason(data []byte, p span) string {
	s := scanner{data: data[:p.end], pos: p.start}
	var flags uint32
	if s.array("Records") && s.peek() == '{' {
		flags = probe(&s)
	}
	switch {
	case flags&keySns != 0:
		return "Lambda SNS event: send each record's Sns.Message"
	case flags&keyBody != 0:
		return "Lambda SQS event batch: send each record's body"
	}
	return "Lambda event with Records is not a finding"
}

// probe reads the object at s and returns which flag keys it has.
func probe(s *scanner) uint32 {
	var flags uint32
	for more := s.object(""); more; more = s.more() {
		flags |= flagKeys[string(s.key())]
		s.skip()
	}
	return flags
}

// decodeSNS handles an SNS envelope.
func decodeSNS(dec *Decoder, s *scanner, d *doc) ([]picket.Finding, error) {
	typ, err := spanString(s.data, d.snsType, "Type")
	if err != nil {
		return nil, err
	}
	if typ != "Notification" {
		return nil, notFindingf("SNS %s, not a notification", word(typ))
	}
	if dec.TopicARN != "" {
		topic, err := spanString(s.data, d.topicARN, "TopicArn")
		if err != nil {
			return nil, err
		}
		switch {
		case topic == "":
			return nil, untrustedf("SNS notification has no TopicArn; only %s is accepted", dec.TopicARN)
		case topic != dec.TopicARN:
			return nil, untrustedf("SNS notification from topic %s; only %s is accepted", quoteShort([]byte(topic)), dec.TopicARN)
		}
	}
	if !d.msgSeen {
		return nil, invalidf("SNS notification has no Message string")
	}
	m := d.message
	i := 0
	for i < len(m) && (m[i] == ' ' || m[i] == '\t' || m[i] == '\n' || m[i] == '\r') {
		i++
	}
	if i == len(m) || m[i] != '{' {
		return nil, notFindingf("SNS message is plain text, not an EventBridge event")
	}
	fs, err := decodeDoc(dec, m, d.msgOwned, true)
	if err != nil {
		var code, msg string = picket.ErrorCode(err), picket.ErrorMessage(err)
		return nil, picket.Errorf(code, "SNS message: %s", msg)
	}
	return fs, nil
}

// parsesDetail reports whether events of detailType carry findings.
func parsesDetail(detailType string) bool {
	switch detailType {
	case detailGuardDuty, detailImported, detailCustomAction, detailLegacyFinding:
		return true
	}
	return false
}

// parseDetail parses the detail of a finding event at s into d.
func parseDetail(s *scanner, d *doc) error {
	if d.detailType == detailGuardDuty {
		s.ctx = "GuardDuty finding"
		s.ws()
		start := s.pos
		parseGuardDuty(s, &d.gd)
		if s.failed() {
			return nil // reported by the caller
		}
		d.gd.raw = s.data[start:s.pos]
		s.ctx = ""
		return nil
	}
	var err error
	d.asff, d.action, err = parseSecurityHubDetail(s)
	return err
}

// decodeEvent handles an EventBridge event.
func decodeEvent(s *scanner, d *doc, owned bool) ([]picket.Finding, error) {
	src, err := spanString(s.data, d.source, "source")
	if err != nil {
		return nil, err
	}
	if dt := d.detailType; dt == detailImportedV2 || parsesDetail(dt) {
		if err := fromSource(dt, src, eventSource(dt)); err != nil {
			return nil, err
		}
	}
	if want, decode := nativeEvent(d.detailType); decode != nil {
		if err := fromSource(d.detailType, src, want); err != nil {
			return nil, err
		}
		ev, err := eventFields(s, d)
		if err != nil {
			return nil, err
		}
		if d.resources.ok() && json.Unmarshal(s.data[d.resources.start:d.resources.end], &ev.resources) != nil {
			return nil, invalidf("%q event: resources is not an array of strings", d.detailType)
		}
		if !d.detail.ok() {
			return nil, invalidf("%q event has no detail", d.detailType)
		}
		return decode(s.data[d.detail.start:d.detail.end], &ev)
	}
	switch dt := d.detailType; {
	case dt == detailImportedV2:
		return decodeImportedV2(s, d)
	case !parsesDetail(dt):
		if strings.Contains(dt, "Finding") || strings.Contains(dt, "Alert") {
			return nil, notFindingf("%s events are not handled: only GuardDuty, Security Hub, Inspector, Macie and IAM Access Analyzer", quoteDetailType(dt))
		}
		return nil, notFindingf("EventBridge event %q from %s is not a finding", dt, orUnknown(src))
	}

	ev, err := eventFields(s, d)
	if err != nil {
		return nil, err
	}
	if !d.detailDone {
		if !d.detail.ok() {
			return nil, invalidf("%q event has no detail", d.detailType)
		}
		ds := scanner{data: s.data[:d.detail.end], pos: d.detail.start}
		if err := parseDetail(&ds, d); err != nil {
			return nil, err
		}
		if ds.failed() {
			return nil, invalidf("%s", ds.err)
		}
	}

	if d.detailType == detailGuardDuty {
		f, err := finishGuardDuty(&d.gd, &ev, owned)
		if err != nil {
			return nil, err
		}
		return []picket.Finding{f}, nil
	}
	if len(d.asff) == 0 {
		return nil, notFindingf("%q event with no findings", d.detailType)
	}
	if d.detailType == detailCustomAction {
		ev.customAction = toString(d.action)
	}
	return finishSecurityHub(d.asff, &ev, owned)
}

// fromSource refuses an event of detailType that does not come from want,
// the only source that sends such events.
func fromSource(detailType, src, want string) error {
	switch src {
	case want:
		return nil
	case "":
		return untrustedf("%q event has no source; only %s sends these", detailType, want)
	}
	return untrustedf("%q event from source %s; only %s sends these", detailType, quoteShort([]byte(src)), want)
}

// decodeImportedV2 handles a Security Hub v2 (OCSF) event.
func decodeImportedV2(s *scanner, d *doc) ([]picket.Finding, error) {
	ev, err := eventFields(s, d)
	if err != nil {
		return nil, err
	}
	if !d.detail.ok() {
		return nil, invalidf("%q event has no detail", d.detailType)
	}
	return decodeOCSF(s.data[d.detail.start:d.detail.end], &ev)
}

// eventFields reads the envelope fields of an EventBridge event.
func eventFields(s *scanner, d *doc) (eventInfo, error) {
	var ev eventInfo
	var err error
	if ev.id, err = spanString(s.data, d.id, "id"); err != nil {
		return ev, err
	}
	if ev.account, err = spanString(s.data, d.account, "account"); err != nil {
		return ev, err
	}
	if ev.region, err = spanString(s.data, d.region, "region"); err != nil {
		return ev, err
	}
	return ev, nil
}

// nativeEvent returns the source that sends finding events of detailType
// straight from a service other than GuardDuty (not through Security Hub)
// and the function that decodes their detail, or nil.
func nativeEvent(detailType string) (string, func([]byte, *eventInfo) ([]picket.Finding, error)) {
	switch detailType {
	case detailInspector:
		return sourceInspector, decodeInspector
	case detailMacie:
		return sourceMacie, decodeMacie
	case detailAccessExternal:
		return sourceAccessAnalyzer, decodeAccessAnalyzer(picket.AccessExternal)
	case detailAccessInternal:
		return sourceAccessAnalyzer, decodeAccessAnalyzer(picket.AccessInternal)
	case detailAccessUnused:
		return sourceAccessAnalyzer, decodeAccessAnalyzer(picket.AccessUnused)
	}
	return "", nil
}

// eventSource is the EventBridge source that sends finding events of
// detailType (one parsesDetail accepts, or Security Hub v2's).
func eventSource(detailType string) string {
	if detailType == detailGuardDuty {
		return sourceGuardDuty
	}
	return sourceSecurityHub
}

// word returns s as is when it is a plain word, else quoted, so that odd
// input cannot make an error message misleading.
func word(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') || i >= 64 {
			return quoteShort([]byte(s))
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// quoteDetailType shortens a detail-type for an error message.
func quoteDetailType(dt string) string {
	if len(dt) > 64 {
		return strconv.Quote(dt[:64]) + "..."
	}
	return dt
}

// orUnknown names an event source for an error message.
func orUnknown(s string) string {
	if s == "" {
		return "an unknown source"
	}
	return s
}

// decodeFindingList handles a GetFindings response's findings array.
func decodeFindingList(data []byte, p span, owned, guardDuty bool) ([]picket.Finding, error) {
	s := scanner{data: data[:p.end], pos: p.start}
	var ev eventInfo
	if !guardDuty {
		list, err := parseASFFList(&s, "Findings")
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, notFindingf("Security Hub GetFindings response with no findings")
		}
		return finishSecurityHub(list, &ev, owned)
	}
	var out []picket.Finding
	i := 0
	for more := s.array("findings"); more; more = s.next() {
		i++
		if s.peek() == '{' {
			ps := s
			if r := otherFinding(probe(&ps)); r != "" {
				return nil, notFindingf("%s", r)
			}
		}
		s.ctx, s.idx = "GuardDuty finding", i
		var g gdFinding
		s.ws()
		start := s.pos
		parseGuardDuty(&s, &g)
		if s.failed() {
			return nil, invalidf("%s", s.err)
		}
		g.raw = s.data[start:s.pos]
		f, err := finishGuardDuty(&g, &ev, owned)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		s.ctx, s.idx = "", 0
	}
	if s.failed() {
		return nil, invalidf("%s", s.err)
	}
	if len(out) == 0 {
		return nil, notFindingf("GuardDuty GetFindings response with no findings")
	}
	return out, nil
}

// decodeBare handles a document that is one finding object.
func decodeBare(data []byte, owned, guardDuty bool) ([]picket.Finding, error) {
	s := scanner{data: data}
	s.ws()
	start := s.pos
	var ev eventInfo
	if guardDuty {
		var g gdFinding
		s.ctx = "GuardDuty finding"
		parseGuardDuty(&s, &g)
		if s.failed() {
			return nil, invalidf("%s", s.err)
		}
		g.raw = data[start:s.pos]
		f, err := finishGuardDuty(&g, &ev, owned)
		if err != nil {
			return nil, err
		}
		return []picket.Finding{f}, nil
	}
	var a asffFinding
	s.ctx = "Security Hub finding"
	parseASFF(&s, &a)
	if s.failed() {
		return nil, invalidf("%s", s.err)
	}
	a.raw = data[start:s.pos]
	return finishSecurityHub([]asffFinding{a}, &ev, owned)
}

// rawCopy returns b itself when the decoder owns it, else a copy.
func rawCopy(b []byte, owned bool) []byte {
	if owned || b == nil {
		return b
	}
	return append([]byte(nil), b...)
}

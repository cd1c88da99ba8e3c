package event

import "strings"

// consoleBase returns the AWS console origin for a partition and region, or
// "" when the region is not a plausible region name. The region comes from
// finding data and ends up in a host name, so it is checked strictly.
func consoleBase(partition, region string) string {
	if !validRegion(region) {
		return ""
	}
	switch partition {
	case "aws-us-gov":
		return "https://console.amazonaws-us-gov.com"
	case "aws-cn":
		return "https://console.amazonaws.cn"
	case "aws", "":
		return "https://" + region + ".console.aws.amazon.com"
	}
	return ""
}

// validRegion accepts names like "us-east-1" and "ap-southeast-2".
func validRegion(r string) bool {
	if len(r) < 4 || len(r) > 32 || r[0] == '-' || r[len(r)-1] == '-' {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// guardDutyConsoleURL links to one GuardDuty finding.
func guardDutyConsoleURL(partition, region, id string) string {
	base := consoleBase(partition, region)
	if base == "" || id == "" {
		return ""
	}
	return base + "/guardduty/home?region=" + region + "#/findings?macros=current&fId=" + escape(id)
}

// securityHubConsoleURL links to the Security Hub findings page filtered on
// one finding Id. The console reads the filter value escaped twice.
func securityHubConsoleURL(partition, region, id string) string {
	base := consoleBase(partition, region)
	if base == "" || id == "" {
		return ""
	}
	return base + "/securityhub/home?region=" + region +
		"#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253A" + escape(escape(id))
}

// escape percent-encodes every byte except the RFC 3986 unreserved ones,
// unlike url.QueryEscape which turns spaces into "+".
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// webURL keeps u only if it is an http or https link: it is shown in Slack
// as a link a responder will click.
func webURL(u []byte) string {
	s := toString(u)
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return s
	}
	return ""
}

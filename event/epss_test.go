package event_test

import (
	"strings"
	"testing"
)

// TestUnreadableEPSSKeepsFinding: an EPSS score that is not a number (or
// out of range) is dropped; the finding still decodes.
func TestUnreadableEPSSKeepsFinding(t *testing.T) {
	good := `"epss":{"score":"0.97565","percentile":0.99996}`
	v2 := string(readOCSF(t, "v2_vulnerability_inspector_log4j_ecr.json"))
	if !strings.Contains(v2, good) {
		t.Fatalf("sample lacks %s", good)
	}
	for _, score := range []string{`""`, `"n/a"`, `{"x":1}`, `[1]`, `true`, `7`, `"-0.5"`} {
		f := mustDecode(t, []byte(strings.Replace(v2, good, `"epss":{"score":`+score+`}`, 1)))
		if len(f) != 1 || len(f[0].Vulnerabilities) != 1 {
			t.Fatalf("score %s: got %d findings", score, len(f))
		}
		if v := f[0].Vulnerabilities[0]; v.HasEPSS || v.ID != "CVE-2021-44228" {
			t.Errorf("score %s: got %+v, want CVE-2021-44228 without EPSS", score, v)
		}
	}
	body := edit(t, placeboData(t, "securityhub/api_GetFindings_inspector_ecr_1__c7n.json"), func(m map[string]any) {
		m["Findings"].([]any)[0].(map[string]any)["Vulnerabilities"].([]any)[0].(map[string]any)["EpssScore"] = "unknown"
	})
	if v := mustDecode(t, body)[0].Vulnerabilities[0]; v.HasEPSS {
		t.Errorf("ASFF: got EPSS %v from \"unknown\"", v.EPSS)
	}
}

package picket

import (
	"context"
	"time"
)

// CheckStatus is how one posture check ended.
type CheckStatus string

// Check statuses.
const (
	CheckPass  CheckStatus = "pass"
	CheckFail  CheckStatus = "fail"
	CheckError CheckStatus = "error" // the check could not run (AccessDenied, timeout...)
)

// CheckResult is one posture check's finding for one account.
type CheckResult struct {
	// ID is stable and short ("iam.root-mfa"); Title says what is checked.
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Section  string   `json:"section"` // "Identity and Access Management", "Logging", ...
	Severity Severity `json:"severity"`
	// Why says why it matters, in one or two sentences.
	Why    string      `json:"why"`
	Status CheckStatus `json:"status"`
	// Evidence says what was seen ("root account has MFA: false").
	Evidence []string `json:"evidence,omitempty"`
	// Failing lists the resources that fail (ARNs or ids), at most a few
	// hundred.
	Failing []string `json:"failing,omitempty"`
	// Remediation says how to fix it; RemediationURL links the AWS docs.
	Remediation    string `json:"remediation"`
	RemediationURL string `json:"remediation_url,omitempty"`
	// Error says why the check could not run, naming the missing
	// permission for AccessDenied.
	Error    string        `json:"error,omitempty"`
	Account  string        `json:"account"`
	Regions  []string      `json:"regions,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// PostureReport is the result of running posture checks on one account.
type PostureReport struct {
	Account   string        `json:"account"`
	Regions   []string      `json:"regions"`
	Generated time.Time     `json:"generated"`
	Results   []CheckResult `json:"results"`
}

// Score is the share of checks that passed among those that ran (pass or
// fail), from 0 to 100; 0 when none ran.
func (r *PostureReport) Score() float64 {
	pass, ran := 0, 0
	for _, c := range r.Results {
		switch c.Status {
		case CheckPass:
			pass++
			ran++
		case CheckFail:
			ran++
		}
	}
	if ran == 0 {
		return 0
	}
	return float64(pass) * 100 / float64(ran)
}

// Failed reports whether any check failed.
func (r *PostureReport) Failed() bool {
	for _, c := range r.Results {
		if c.Status == CheckFail {
			return true
		}
	}
	return false
}

// PostureChecker runs posture checks; posture.Checker implements it.
// ids selects checks by ID ("all" or none for every check); account ""
// means the account Picket runs in.
type PostureChecker interface {
	Check(ctx context.Context, account string, ids []string) (PostureReport, error)
}

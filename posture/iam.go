package posture

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/picketsec/picket"
)

// Ages the IAM checks hold credentials to (CIS AWS Foundations 1.12, 1.14).
const (
	maxKeyAge     = 90 * 24 * time.Hour
	maxUnusedAge  = 45 * 24 * time.Hour
	minPassword   = 14
	minReuse      = 24
	rootUser      = "<root_account>"
	reportPolls   = 8
	firstPollWait = 100 * time.Millisecond
	maxPollWait   = 2 * time.Second
)

// shared holds what the checks of one run read once.
type shared struct {
	lock   chan struct{}
	done   bool
	report []credRow
	err    error
}

func newShared() *shared { return &shared{lock: make(chan struct{}, 1)} }

// credRow is one line of the IAM credential report.
type credRow struct {
	user, arn        string
	created          time.Time
	passwordEnabled  bool
	passwordLastUsed time.Time // zero when never used or unknown
	mfa              bool
	keys             [2]credKey
}

type credKey struct {
	active   bool
	rotated  time.Time
	lastUsed time.Time // zero when never used
}

// credentialReport returns the account's credential report, fetched once
// per run when the Checker shares it.
func (c Clients) credentialReport(ctx context.Context) ([]credRow, error) {
	if c.IAM == nil {
		return nil, missing("IAM")
	}
	s := c.shared
	if s == nil {
		return fetchCredentialReport(ctx, c.IAM)
	}
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()
	if s.done {
		return s.report, s.err
	}
	rows, err := fetchCredentialReport(ctx, c.IAM)
	if err != nil && ctx.Err() != nil {
		return nil, err // this check ran out of time; let the next one try
	}
	s.report, s.err, s.done = rows, err, true
	return rows, err
}

// fetchCredentialReport asks IAM to generate the credential report and
// polls for it with a short, bounded wait.
func fetchCredentialReport(ctx context.Context, api IAMAPI) ([]credRow, error) {
	if _, err := api.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		return nil, fmt.Errorf("generate credential report: %w", err)
	}
	wait := firstPollWait
	for attempt := 1; ; attempt++ {
		out, err := api.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		if err == nil {
			rows, err := parseCredentialReport(out.Content)
			if err != nil {
				return nil, &checkError{msg: "the IAM credential report could not be read", err: err}
			}
			return rows, nil
		}
		code := errorCode(err)
		if code != "ReportInProgress" && code != "ReportNotPresent" {
			return nil, fmt.Errorf("get credential report: %w", err)
		}
		if attempt >= reportPolls {
			return nil, &checkError{msg: "the IAM credential report was not ready in time; try again in a minute"}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, maxPollWait)
	}
}

// errorCode returns the AWS error code in err's chain, or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// parseCredentialReport reads the CSV credential report by column name.
func parseCredentialReport(content []byte) ([]credRow, error) {
	r := csv.NewReader(bytes.NewReader(content))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"user", "arn", "password_enabled", "mfa_active", "access_key_1_active", "access_key_2_active"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("no column %s", need)
		}
	}
	var rows []credRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read row %d: %w", len(rows)+1, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row := credRow{
			user:             get("user"),
			arn:              get("arn"),
			created:          reportTime(get("user_creation_time")),
			passwordEnabled:  get("password_enabled") == "true",
			passwordLastUsed: reportTime(get("password_last_used")),
			mfa:              get("mfa_active") == "true",
		}
		for k := range row.keys {
			p := fmt.Sprintf("access_key_%d_", k+1)
			row.keys[k] = credKey{
				active:   get(p+"active") == "true",
				rotated:  reportTime(get(p + "last_rotated")),
				lastUsed: reportTime(get(p + "last_used_date")),
			}
		}
		rows = append(rows, row)
	}
}

// reportTime parses a credential report time; "N/A", "no_information" and
// "not_supported" are the zero time.
func reportTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

func rootRow(rows []credRow) (credRow, error) {
	for _, r := range rows {
		if r.user == rootUser {
			return r, nil
		}
	}
	return credRow{}, &checkError{msg: "the IAM credential report has no root account row"}
}

func runRootMFA(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	rows, err := c.credentialReport(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	root, err := rootRow(rows)
	if err != nil {
		return "", nil, nil, err
	}
	ev := []string{fmt.Sprintf("root account has MFA: %t", root.mfa)}
	if !root.mfa {
		return picket.CheckFail, ev, []string{root.arn}, nil
	}
	return picket.CheckPass, ev, nil, nil
}

func runRootAccessKeys(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	rows, err := c.credentialReport(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	root, err := rootRow(rows)
	if err != nil {
		return "", nil, nil, err
	}
	var ev []string
	for i, k := range root.keys {
		if k.active {
			ev = append(ev, fmt.Sprintf("root access key %d is active", i+1))
		}
	}
	if len(ev) > 0 {
		return picket.CheckFail, ev, []string{root.arn}, nil
	}
	return picket.CheckPass, []string{"root account has no active access keys"}, nil, nil
}

func runConsoleMFA(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	rows, err := c.credentialReport(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	var fail []string
	console := 0
	for _, r := range rows {
		if r.user == rootUser || !r.passwordEnabled {
			continue
		}
		console++
		if !r.mfa {
			fail = append(fail, r.user)
		}
	}
	ev := []string{fmt.Sprintf("%d of %d console users have no MFA", len(fail), console)}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

func runAccessKeyAge(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	rows, err := c.credentialReport(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	t := c.clock()
	var fail []string
	active := 0
	for _, r := range rows {
		if r.user == rootUser {
			continue // the root key check covers these
		}
		for i, k := range r.keys {
			if !k.active {
				continue
			}
			active++
			if !k.rotated.IsZero() && t.Sub(k.rotated) > maxKeyAge {
				fail = append(fail, fmt.Sprintf("%s: access key %d is %d days old", r.user, i+1, days(t.Sub(k.rotated))))
			}
		}
	}
	ev := []string{fmt.Sprintf("%d of %d active access keys are older than %d days", len(fail), active, days(maxKeyAge))}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

func runUnusedCredentials(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	rows, err := c.credentialReport(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	t := c.clock()
	var fail []string
	// since is when a credential was last used, or issued if never.
	since := func(used, issued time.Time) time.Time {
		if !used.IsZero() {
			return used
		}
		return issued
	}
	for _, r := range rows {
		if r.user == rootUser {
			continue
		}
		if r.passwordEnabled {
			if s := since(r.passwordLastUsed, r.created); !s.IsZero() && t.Sub(s) > maxUnusedAge {
				fail = append(fail, fmt.Sprintf("%s: password unused for %d days", r.user, days(t.Sub(s))))
			}
		}
		for i, k := range r.keys {
			if !k.active {
				continue
			}
			if s := since(k.lastUsed, k.rotated); !s.IsZero() && t.Sub(s) > maxUnusedAge {
				fail = append(fail, fmt.Sprintf("%s: access key %d unused for %d days", r.user, i+1, days(t.Sub(s))))
			}
		}
	}
	ev := []string{fmt.Sprintf("%d enabled credentials unused for more than %d days", len(fail), days(maxUnusedAge))}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

func runPasswordPolicy(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.IAM == nil {
		return "", nil, nil, missing("IAM")
	}
	out, err := c.IAM.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return picket.CheckFail, []string{"no account password policy is set"}, []string{"account password policy"}, nil
		}
		return "", nil, nil, fmt.Errorf("get password policy: %w", err)
	}
	p := out.PasswordPolicy
	length, reuse := aws.ToInt32(p.MinimumPasswordLength), aws.ToInt32(p.PasswordReusePrevention)
	ev := []string{
		fmt.Sprintf("minimum password length: %d (want at least %d)", length, minPassword),
		fmt.Sprintf("password reuse prevention: %d (want at least %d)", reuse, minReuse),
	}
	if length < minPassword || reuse < minReuse {
		return picket.CheckFail, ev, []string{"account password policy"}, nil
	}
	return picket.CheckPass, ev, nil, nil
}

// adminPolicyARN is the AWS managed policy that grants "*:*".
const adminPolicySuffix = ":iam::aws:policy/AdministratorAccess"

// runAdminPolicies finds users with a policy, attached or inline, that
// allows every action on every resource. One paginated
// GetAccountAuthorizationDetails call lists every user with inline
// documents; customer managed policies are read once each. AWS managed
// policies other than AdministratorAccess are not read: none grants "*:*".
func runAdminPolicies(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.IAM == nil {
		return "", nil, nil, missing("IAM")
	}
	managed := map[string]bool{} // policy ARN -> grants *:*
	var fail []string
	users := 0
	p := iam.NewGetAccountAuthorizationDetailsPaginator(c.IAM, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("get account authorization details: %w", err)
		}
		for _, u := range page.UserDetailList {
			users++
			name := aws.ToString(u.UserName)
			for _, ip := range u.UserPolicyList {
				full, err := grantsAll(aws.ToString(ip.PolicyDocument))
				if err != nil {
					return "", nil, nil, &checkError{msg: fmt.Sprintf("inline policy %s of %s could not be read", aws.ToString(ip.PolicyName), name), err: err}
				}
				if full {
					fail = append(fail, fmt.Sprintf("%s: inline policy %s", name, aws.ToString(ip.PolicyName)))
				}
			}
			for _, ap := range u.AttachedManagedPolicies {
				arn := aws.ToString(ap.PolicyArn)
				full, ok := managed[arn]
				if !ok {
					full, err = managedGrantsAll(ctx, c.IAM, arn)
					if err != nil {
						return "", nil, nil, err
					}
					managed[arn] = full
				}
				if full {
					fail = append(fail, fmt.Sprintf("%s: attached policy %s", name, aws.ToString(ap.PolicyName)))
				}
			}
		}
	}
	ev := []string{fmt.Sprintf("%d of %d users have a policy allowing \"*\" on \"*\"", countUsers(fail), users)}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

func countUsers(fail []string) int {
	seen := map[string]bool{}
	for _, f := range fail {
		u, _, _ := strings.Cut(f, ":")
		seen[u] = true
	}
	return len(seen)
}

func managedGrantsAll(ctx context.Context, api IAMAPI, arn string) (bool, error) {
	if strings.HasSuffix(arn, adminPolicySuffix) {
		return true, nil
	}
	if strings.Contains(arn, ":iam::aws:policy/") {
		return false, nil
	}
	pol, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return false, fmt.Errorf("get policy %s: %w", arn, err)
	}
	if pol.Policy == nil || pol.Policy.DefaultVersionId == nil {
		return false, &checkError{msg: "policy " + arn + " has no default version"}
	}
	ver, err := api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return false, fmt.Errorf("get policy version %s %s: %w", arn, aws.ToString(pol.Policy.DefaultVersionId), err)
	}
	if ver.PolicyVersion == nil {
		return false, nil
	}
	full, err := grantsAll(aws.ToString(ver.PolicyVersion.Document))
	if err != nil {
		return false, &checkError{msg: "policy " + arn + " could not be read", err: err}
	}
	return full, nil
}

// oneOrMany is a policy element that is a string or a list of strings.
type oneOrMany []string

func (o *oneOrMany) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		var l []string
		err := json.Unmarshal(b, &l)
		*o = l
		return err
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*o = []string{s}
	return nil
}

type statement struct {
	Effect   string    `json:"Effect"`
	Action   oneOrMany `json:"Action"`
	Resource oneOrMany `json:"Resource"`
}

// grantsAll reports whether a policy document (URL-encoded, as IAM returns
// it) has a statement allowing action "*" on resource "*".
func grantsAll(doc string) (bool, error) {
	if dec, err := url.PathUnescape(doc); err == nil {
		doc = dec
	}
	var p struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return false, fmt.Errorf("decode policy: %w", err)
	}
	var stmts []statement
	raw := bytes.TrimSpace(p.Statement)
	if bytes.HasPrefix(raw, []byte("{")) {
		var s statement
		if err := json.Unmarshal(raw, &s); err != nil {
			return false, fmt.Errorf("decode statement: %w", err)
		}
		stmts = []statement{s}
	} else if len(raw) > 0 {
		if err := json.Unmarshal(raw, &stmts); err != nil {
			return false, fmt.Errorf("decode statements: %w", err)
		}
	}
	for _, s := range stmts {
		if s.Effect == "Allow" && slices.Contains(s.Action, "*") && slices.Contains(s.Resource, "*") {
			return true, nil
		}
	}
	return false, nil
}

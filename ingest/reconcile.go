package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// SecurityHubAPI is the part of Security Hub the reconciler uses, with the
// SDK's exact signature so that *securityhub.Client satisfies it.
type SecurityHubAPI interface {
	GetFindings(ctx context.Context, params *securityhub.GetFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error)
}

// FindingLookup reads the finding index; store.DB implements it.
type FindingLookup interface {
	Finding(key string) (picket.FindingRecord, bool, error)
}

// Reconciliation defaults.
const (
	// DefaultReconcileInterval is how often the index is synced.
	DefaultReconcileInterval = 15 * time.Minute
	// DefaultReconcileWindow is how far back the first sync looks.
	DefaultReconcileWindow = 24 * time.Hour
	// ReconcileMinGap is the least time between two GetFindings calls: at
	// most 2 requests a second, below Security Hub's 3.
	ReconcileMinGap = 500 * time.Millisecond
	// reconcilePage is GetFindings' largest page.
	reconcilePage = 100
	// reconcileOverlap makes each sync start a little before the last one
	// ended, for findings Security Hub indexes late.
	reconcileOverlap = 5 * time.Minute
)

// ReconcileMetrics count what reconciliation did. Every field may be nil.
type ReconcileMetrics struct {
	Requests *metrics.Counter // GetFindings calls
	Checked  *metrics.Counter // findings compared with the index
	Missing  *metrics.Counter // findings the index lacked, handed to the pipeline
	Stale    *metrics.Counter // findings the index held an older version of
	Failed   *metrics.Counter // findings the handler failed on
}

// ReconcileOptions configure a Reconciler. API, Decode, Index and Handler
// are required.
type ReconcileOptions struct {
	API SecurityHubAPI
	// Decode turns a GetFindings response body ({"Findings": [...]}, in
	// ASFF) into findings: event.Decode, so reconciled findings get the
	// same keys as those that arrive through the queue.
	Decode  func([]byte) ([]picket.Finding, error)
	Index   FindingLookup
	Handler picket.FindingHandler
	// Interval between syncs (DefaultReconcileInterval) and the first
	// sync's look-back (DefaultReconcileWindow).
	Interval time.Duration
	Window   time.Duration
	// Now and Sleep are the clock; Sleep waits for d or until ctx ends.
	// Defaults: the real clock.
	Now     func() time.Time
	Sleep   func(ctx context.Context, d time.Duration) error
	Logger  *slog.Logger
	Metrics ReconcileMetrics
}

// Reconciler syncs the finding index with Security Hub GetFindings, so that
// findings whose events were lost (a dropped EventBridge delivery, a queue
// purged, Picket down longer than the queue's retention) still count: a
// finding missing from the index, or held there in an older version, is
// handed to the pipeline like one from the queue. It asks for at most 2
// pages a second.
type Reconciler struct {
	o        ReconcileOptions
	lastCall time.Time
	// since is where the next sync starts.
	since time.Time
}

// NewReconciler checks opts and returns a Reconciler.
func NewReconciler(opts ReconcileOptions) (*Reconciler, error) {
	if opts.API == nil || opts.Decode == nil || opts.Index == nil || opts.Handler == nil {
		return nil, picket.Errorf(picket.EINVALID, "reconcile: API, Decode, Index and Handler are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultReconcileInterval
	}
	if opts.Window <= 0 {
		opts.Window = DefaultReconcileWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{o: opts}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReconcileReport says what one sync did.
type ReconcileReport struct {
	Pages, Checked, Missing, Stale, Failed int
}

// Run syncs every Interval until ctx ends. A failed sync is logged and
// tried again at the next interval, from the same start.
func (r *Reconciler) Run(ctx context.Context) error {
	for {
		if _, err := r.Sync(ctx); err != nil && ctx.Err() == nil {
			r.o.Logger.Warn("reconcile with Security Hub failed", "err", err)
		}
		if err := r.o.Sleep(ctx, r.o.Interval); err != nil {
			return nil // ctx ended: a normal stop
		}
	}
}

// Sync pages through the findings Security Hub updated since the last
// successful sync (the first looks back Window), and hands every finding
// the index lacks or holds an older version of to the handler.
func (r *Reconciler) Sync(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	end := r.o.Now().UTC()
	start := r.since
	if start.IsZero() {
		start = end.Add(-r.o.Window)
	}
	in := &securityhub.GetFindingsInput{
		Filters: &shtypes.AwsSecurityFindingFilters{
			RecordState: []shtypes.StringFilter{{Comparison: shtypes.StringFilterComparisonEquals, Value: aws.String(picket.RecordActive)}},
			UpdatedAt:   []shtypes.DateFilter{{Start: aws.String(start.Format(time.RFC3339)), End: aws.String(end.Format(time.RFC3339))}},
		},
		MaxResults: aws.Int32(reconcilePage),
	}
	for {
		if err := r.pace(ctx); err != nil {
			return rep, err
		}
		out, err := r.o.API.GetFindings(ctx, in)
		r.o.Metrics.Requests.Inc()
		if err != nil {
			return rep, translateSecurityHubError(err)
		}
		rep.Pages++
		if err := r.apply(ctx, out.Findings, &rep); err != nil {
			return rep, err
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	r.since = end.Add(-reconcileOverlap)
	if rep.Missing+rep.Stale+rep.Failed > 0 {
		r.o.Logger.Info("reconciled finding index with Security Hub", "pages", rep.Pages, "checked", rep.Checked,
			"repaired_missing", rep.Missing, "repaired_stale", rep.Stale, "failed", rep.Failed)
	} else {
		r.o.Logger.Debug("finding index in step with Security Hub", "pages", rep.Pages, "checked", rep.Checked)
	}
	return rep, nil
}

// pace waits until ReconcileMinGap has passed since the last call.
func (r *Reconciler) pace(ctx context.Context) error {
	if !r.lastCall.IsZero() {
		if wait := r.lastCall.Add(ReconcileMinGap).Sub(r.o.Now()); wait > 0 {
			if err := r.o.Sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	r.lastCall = r.o.Now()
	return ctx.Err()
}

func (r *Reconciler) apply(ctx context.Context, page []shtypes.AwsSecurityFinding, rep *ReconcileReport) error {
	if len(page) == 0 {
		return nil
	}
	body, err := json.Marshal(map[string]any{"Findings": asffList(page)})
	if err != nil {
		return fmt.Errorf("encode findings page: %w", err)
	}
	findings, err := r.o.Decode(body)
	if err != nil {
		return fmt.Errorf("decode findings page: %w", err)
	}
	for i := range findings {
		f := &findings[i]
		rep.Checked++
		r.o.Metrics.Checked.Inc()
		rec, ok, err := r.o.Index.Finding(f.Key)
		if err != nil {
			return err
		}
		if ok && !f.NewerThan(&rec.Finding) {
			continue
		}
		outcome, err := r.o.Handler.HandleFinding(ctx, f)
		if err != nil {
			rep.Failed++
			r.o.Metrics.Failed.Inc()
			r.o.Logger.Warn("reconcile finding", "key", f.Key, "id", f.ID, "err", err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		what := "missing"
		if ok {
			what = "stale"
			rep.Stale++
			r.o.Metrics.Stale.Inc()
		} else {
			rep.Missing++
			r.o.Metrics.Missing.Inc()
		}
		r.o.Logger.Info("repaired finding from Security Hub", "key", f.Key, "id", f.ID, "was", what, "outcome", outcome)
	}
	return nil
}

// translateSecurityHubError gives Security Hub's errors a code.
func translateSecurityHubError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException":
			return &picket.Error{Code: picket.EUNAUTHORIZED, Err: err,
				Message: "Security Hub refused GetFindings: grant securityhub:GetFindings to Picket's role."}
		case "InvalidAccessException":
			return &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
				Message: "Security Hub is not enabled in this account and region."}
		case "LimitExceededException", "TooManyRequestsException", "ThrottlingException":
			return &picket.Error{Code: picket.EUNAVAILABLE, Err: err, Message: "Security Hub is throttling GetFindings."}
		}
	}
	return &picket.Error{Code: picket.EUNAVAILABLE, Err: err, Message: "Security Hub GetFindings failed."}
}

// asffList writes the findings back as ASFF objects with only the members
// Picket decodes; the SDK's structs, encoded as they are, would carry every
// unset member of their large detail types as null.
func asffList(page []shtypes.AwsSecurityFinding) []map[string]any {
	out := make([]map[string]any, 0, len(page))
	for _, f := range page {
		m := map[string]any{}
		put := func(k string, v *string) {
			if v != nil {
				m[k] = *v
			}
		}
		put("SchemaVersion", f.SchemaVersion)
		put("Id", f.Id)
		put("ProductArn", f.ProductArn)
		put("ProductName", f.ProductName)
		put("CompanyName", f.CompanyName)
		put("GeneratorId", f.GeneratorId)
		put("AwsAccountId", f.AwsAccountId)
		put("Region", f.Region)
		put("CreatedAt", f.CreatedAt)
		put("UpdatedAt", f.UpdatedAt)
		put("FirstObservedAt", f.FirstObservedAt)
		put("LastObservedAt", f.LastObservedAt)
		put("Title", f.Title)
		put("Description", f.Description)
		put("SourceUrl", f.SourceUrl)
		if len(f.Types) > 0 {
			m["Types"] = f.Types
		}
		if f.RecordState != "" {
			m["RecordState"] = string(f.RecordState)
		}
		if f.Sample != nil {
			m["Sample"] = *f.Sample
		}
		if len(f.ProductFields) > 0 {
			m["ProductFields"] = f.ProductFields
		}
		if s := f.Severity; s != nil {
			sev := map[string]any{}
			if s.Label != "" {
				sev["Label"] = string(s.Label)
			}
			if s.Normalized != nil {
				sev["Normalized"] = *s.Normalized
			}
			if s.Product != nil {
				sev["Product"] = *s.Product
			}
			if s.Original != nil {
				sev["Original"] = *s.Original
			}
			m["Severity"] = sev
		}
		if f.WorkflowState != "" {
			m["WorkflowState"] = string(f.WorkflowState)
		}
		if f.Workflow != nil && f.Workflow.Status != "" {
			m["Workflow"] = map[string]any{"Status": string(f.Workflow.Status)}
		}
		if c := f.Compliance; c != nil {
			comp := map[string]any{}
			if c.Status != "" {
				comp["Status"] = string(c.Status)
			}
			if c.SecurityControlId != nil {
				comp["SecurityControlId"] = *c.SecurityControlId
			}
			m["Compliance"] = comp
		}
		if rem := f.Remediation; rem != nil && rem.Recommendation != nil {
			rec := map[string]any{}
			if rem.Recommendation.Text != nil {
				rec["Text"] = *rem.Recommendation.Text
			}
			if rem.Recommendation.Url != nil {
				rec["Url"] = *rem.Recommendation.Url
			}
			m["Remediation"] = map[string]any{"Recommendation": rec}
		}
		res := make([]map[string]any, 0, len(f.Resources))
		for _, r := range f.Resources {
			rm := map[string]any{}
			if r.Type != nil {
				rm["Type"] = *r.Type
			}
			if r.Id != nil {
				rm["Id"] = *r.Id
			}
			if r.Partition != "" {
				rm["Partition"] = string(r.Partition)
			}
			if r.Region != nil {
				rm["Region"] = *r.Region
			}
			if len(r.Tags) > 0 {
				rm["Tags"] = r.Tags
			}
			if r.Details != nil {
				if d := withoutNulls(r.Details); d != nil {
					rm["Details"] = d
				}
			}
			res = append(res, rm)
		}
		m["Resources"] = res
		out = append(out, m)
	}
	return out
}

// withoutNulls encodes v as JSON and decodes it back without its null
// members: the SDK's detail structs encode every unset pointer as null,
// hundreds per resource.
func withoutNulls(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var x any
	if json.Unmarshal(b, &x) != nil {
		return nil
	}
	return dropNulls(x)
}

func dropNulls(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if e = dropNulls(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		out := v[:0]
		for _, e := range v {
			if e = dropNulls(e); e != nil {
				out = append(out, e)
			}
		}
		return out
	}
	return x
}

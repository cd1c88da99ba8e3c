package enrich

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Error codes AWS uses for a caller that lacks a permission.
var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true, // IAM and other query APIs
	"AccessDeniedException": true, // JSON APIs
	"UnauthorizedOperation": true, // EC2
}

// Error codes for a resource that does not exist.
var notFoundCodes = map[string]bool{
	"NoSuchEntity":               true, // IAM
	"InvalidInstanceID.NotFound": true, // EC2
}

var noSuchEntity = map[string]bool{"NoSuchEntity": true}

// isCode reports whether err is an AWS API error with one of codes.
func isCode(err error, codes map[string]bool) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && codes[ae.ErrorCode()]
}

// lookupError describes a failed AWS call for people and logs the details.
type lookupError struct {
	subject  string // "IAM user alice"
	action   string // "iam:GetUser"
	want     string // "user context", what the permission would show
	notFound string // the line for a not-found error; "" for the generic one
}

// explain turns err from the call described by le into a Missing line and
// logs it. Codes are read with errors.As on smithy.APIError, never from the
// message text.
func (r *run) explain(le lookupError, err error) string {
	log := r.e.log.With("finding", r.finding.Key, "account", r.finding.Account,
		"subject", le.subject, "action", le.action, "err", err)
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && accessDeniedCodes[ae.ErrorCode()]:
		log.Warn("enrich: access denied")
		return fmt.Sprintf("%s: access denied (%s); grant it to see %s", le.subject, le.action, le.want)
	case errors.As(err, &ae) && notFoundCodes[ae.ErrorCode()] && le.notFound != "":
		log.Info("enrich: not found")
		return le.notFound
	case errors.As(err, &ae):
		log.Warn("enrich: lookup failed")
		return fmt.Sprintf("%s: %s failed (%s)", le.subject, le.action, ae.ErrorCode())
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(r.ctx.Err(), context.DeadlineExceeded):
		log.Info("enrich: out of time")
		return le.subject + ": no answer within " + r.e.budget.String()
	case errors.Is(err, context.Canceled):
		log.Info("enrich: cancelled")
		return le.subject + ": lookup cancelled"
	}
	log.Warn("enrich: lookup failed")
	return fmt.Sprintf("%s: %s failed; details are in the logs", le.subject, le.action)
}

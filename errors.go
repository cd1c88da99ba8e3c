package picket

import (
	"errors"
	"fmt"
)

// Error codes shared by every package. A code says what kind of failure
// happened so callers can decide what to do without matching text.
const (
	EINVALID      = "invalid"      // input is malformed
	ENOTFINDING   = "not_finding"  // well-formed input that carries no finding
	EUNSUPPORTED  = "unsupported"  // a recognised format Picket does not handle yet
	EUNTRUSTED    = "untrusted"    // well-formed input from a sender Picket does not accept
	ENOTFOUND     = "not_found"    // the thing asked for does not exist
	ECONFLICT     = "conflict"     // someone else is already acting
	EUNAUTHORIZED = "unauthorized" // the actor may not do this
	EUNAVAILABLE  = "unavailable"  // a dependency (Slack, AWS, the store) failed; retry later
	EINTERNAL     = "internal"     // a bug
)

// Error is an application error with a code and a message meant for people.
// Err, when set, is the underlying cause kept for logs.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the people-facing message of the first *Error in
// err's chain, or a generic sentence for other errors so internals never
// reach Slack.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong inside Picket; the details are in its logs."
}

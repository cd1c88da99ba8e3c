package awsfake

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Reply returns a Handler that answers every call with resp.
func Reply(resp Response) Handler {
	return func(*Request) Response { return resp }
}

// Sequence returns a Handler that answers successive calls with resps in
// order and repeats the last one afterwards: Sequence(throttled, ok) fails
// once, then succeeds. It is safe for concurrent use.
func Sequence(resps ...Response) Handler {
	if len(resps) == 0 {
		panic("awsfake: Sequence needs at least one response")
	}
	var mu sync.Mutex
	next := 0
	return func(*Request) Response {
		mu.Lock()
		defer mu.Unlock()
		r := resps[next]
		if next < len(resps)-1 {
			next++
		}
		return r
	}
}

// XML returns a 200 response with body as is: the caller supplies the whole
// document, e.g. <GetUserResponse><GetUserResult>...</GetUserResult></GetUserResponse>.
// See QueryResult and EC2Result for the usual wrappers.
func XML(body string) Response {
	return Response{Status: http.StatusOK, Body: body}
}

// QueryResult returns a 200 awsQuery (IAM, STS, Auto Scaling, SNS) success
// response for operation with inner as the content of its Result element:
//
//	<OperationResponse><OperationResult>inner</OperationResult>
//	<ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OperationResponse>
func QueryResult(operation, inner string) Response {
	return XML(fmt.Sprintf("<%[1]sResponse><%[1]sResult>%[2]s</%[1]sResult>"+
		"<ResponseMetadata><RequestId>%[3]s</RequestId></ResponseMetadata></%[1]sResponse>",
		operation, inner, RequestIDPlaceholder))
}

// EC2Result returns a 200 ec2Query success response for operation with inner
// as the content of its root element (EC2 has no Result wrapper):
//
//	<OperationResponse><requestId>...</requestId>inner</OperationResponse>
func EC2Result(operation, inner string) Response {
	return XML(fmt.Sprintf(`<%[1]sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`+
		"<requestId>%[3]s</requestId>%[2]s</%[1]sResponse>",
		operation, inner, RequestIDPlaceholder))
}

// JSONBody returns a 200 response with v encoded as JSON, for JSON and
// REST-JSON services. It panics if v cannot be encoded (a test bug).
func JSONBody(v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("awsfake: JSONBody: %v", err))
	}
	return Response{Status: http.StatusOK, Body: string(b)}
}

// QueryError returns an awsQuery error response (IAM, STS, Auto Scaling,
// SNS) with the status AWS uses for the code: 403 for access denied, 404
// for NoSuchEntity, 400 otherwise (change it with WithStatus).
func QueryError(code, message string) Response {
	return Response{
		Status: errorStatus(code),
		Body: "<ErrorResponse><Error><Type>" + faultType(code) + "</Type><Code>" + escapeXML(code) +
			"</Code><Message>" + escapeXML(message) + "</Message></Error><RequestId>" +
			RequestIDPlaceholder + "</RequestId></ErrorResponse>",
	}
}

// EC2Error returns an ec2Query error response with the status AWS uses for
// the code (403 for UnauthorizedOperation, 400 otherwise).
func EC2Error(code, message string) Response {
	return Response{
		Status: errorStatus(code),
		Body: "<Response><Errors><Error><Code>" + escapeXML(code) + "</Code><Message>" +
			escapeXML(message) + "</Message></Error></Errors><RequestID>" +
			RequestIDPlaceholder + "</RequestID></Response>",
	}
}

// JSONError returns an error response for JSON and REST-JSON services: the
// X-Amzn-ErrorType header and a {"__type", "message"} body, with the status
// AWS uses for the code. For a query-compatible service such as SQS add the
// legacy code with WithHeader("X-Amzn-Query-Error", "Code;Sender").
func JSONError(code, message string) Response {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": message})
	return Response{
		Status: errorStatus(code),
		Body:   string(b),
		Header: http.Header{"X-Amzn-Errortype": {code}},
	}
}

// errorStatus is the HTTP status AWS sends with an error code.
func errorStatus(code string) int {
	switch code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
		"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException":
		return http.StatusForbidden
	case "NoSuchEntity", "ResourceNotFoundException", "NotFoundException":
		return http.StatusNotFound
	case "InternalFailure", "InternalError", "InternalException", "ServiceFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "ServiceUnavailableException", "Unavailable":
		return http.StatusServiceUnavailable
	case "TooManyRequestsException":
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

func faultType(code string) string {
	if errorStatus(code) >= 500 {
		return "Receiver"
	}
	return "Sender"
}

func escapeXML(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

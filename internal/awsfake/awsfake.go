package awsfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region of the aws.Config that Config returns.
const Region = "us-east-1"

// Static credentials of the aws.Config that Config returns.
const (
	AccessKeyID     = "AKIDTEST"
	SecretAccessKey = "secret"
)

// Handler answers one AWS call. It runs on the server's goroutine for that
// request; handlers registered for calls that may run concurrently must be
// safe for concurrent use.
type Handler func(r *Request) Response

// Call is one recorded AWS call as the server decoded it.
type Call struct {
	// Service is the SigV4 signing name ("iam", "ec2", "sqs", "securityhub").
	Service string
	// Operation is the API operation ("GetUser"). For a REST call that
	// matched no registered route it is the method and path
	// ("POST /findings").
	Operation string
	// Region is the region from the SigV4 credential scope.
	Region string
	Method string
	// Path is the unescaped URL path.
	Path string
	// Query holds the URL query parameters.
	Query url.Values
	// Form holds the form fields of a query-protocol call (IAM, EC2, STS,
	// Auto Scaling, SNS), including Action and Version.
	Form url.Values
	// JSON is the decoded body of a JSON or REST-JSON call; nil when the
	// body is empty or not a JSON object. Numbers are float64.
	JSON map[string]any
	// PathParams holds the {labels} of the matched REST route.
	PathParams map[string]string
	// Body is the raw request body.
	Body []byte
	// RequestID is the request id the call was answered with.
	RequestID string
}

// Param returns a request parameter by name: a form field for query
// protocols, a top-level JSON member (strings as is, other values JSON
// encoded), a REST path label or a URL query parameter, whichever is
// present first. Nested query-protocol fields use their flattened names
// ("InstanceId.1").
func (c Call) Param(name string) string {
	if vs, ok := c.Form[name]; ok && len(vs) > 0 {
		return vs[0]
	}
	if v, ok := c.JSON[name]; ok {
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	if v, ok := c.PathParams[name]; ok {
		return v
	}
	return c.Query.Get(name)
}

// Request is a call being answered: the recorded Call plus the HTTP headers
// and the request's context, which is done when the client gives up.
type Request struct {
	Call
	Header http.Header
	ctx    context.Context
}

// Context returns the HTTP request's context. A handler that simulates a
// slow service should block on it (and on a channel the test closes) so the
// server can shut down.
func (r *Request) Context() context.Context { return r.ctx }

// Response is a canned reply. The zero Status means 200. Every occurrence
// of RequestIDPlaceholder in Body is replaced by the call's request id.
type Response struct {
	Status int
	Body   string
	Header http.Header
}

// RequestIDPlaceholder in a Response body is replaced by the request id the
// server answers with, so error and result bodies can carry it as AWS does.
const RequestIDPlaceholder = "{{RequestID}}"

// WithStatus returns a copy of resp with the given HTTP status.
func (resp Response) WithStatus(status int) Response {
	resp.Status = status
	return resp
}

// WithHeader returns a copy of resp with the header key set to value.
func (resp Response) WithHeader(key, value string) Response {
	h := resp.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(key, value)
	resp.Header = h
	return resp
}

type protocol int

const (
	protoQuery protocol = iota // awsQuery: IAM, STS, Auto Scaling, SNS
	protoEC2                   // ec2Query
	protoJSON                  // awsJson 1.0 / 1.1
	protoREST                  // restJson1
)

type route struct {
	service, operation, method string
	segments                   []string
	// query are the URL query parameters the request must carry (S3
	// names many operations on one path by a query key: "?tagging").
	query []string
}

// Server is a recording fake of AWS service endpoints. Create it with New.
type Server struct {
	tb  testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	handlers   map[string]Handler // "service:Operation"
	routes     []route
	calls      []Call
	seq        int
	unexpected bool
}

// New starts a Server on 127.0.0.1 that is closed when the test ends.
// Cleanups registered after New run before the server closes, so a test
// can release blocked handlers there.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, handlers: map[string]Handler{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL returns the server's base URL, the BaseEndpoint for every client.
func (s *Server) URL() string { return s.srv.URL }

// ConfigOption changes the aws.Config that Config returns.
type ConfigOption func(*aws.Config)

// WithRetries makes clients use the SDK's standard retryer, with its rules
// for which errors are retryable, for up to attempts attempts, without
// backoff delays or a retry quota so throttling tests stay fast.
func WithRetries(attempts int) ConfigOption {
	return func(cfg *aws.Config) {
		cfg.RetryMaxAttempts = attempts
		cfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		}
	}
}

// Config returns an aws.Config for region us-east-1 with static
// credentials, BaseEndpoint set to the server and a single attempt per call
// (see WithRetries).
func (s *Server) Config(opts ...ConfigOption) aws.Config {
	cfg := aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint:     aws.String(s.srv.URL),
		HTTPClient:       s.srv.Client(),
		RetryMaxAttempts: 1,
		Retryer: func() aws.Retryer {
			return retry.AddWithMaxAttempts(retry.NewStandard(), 1)
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// On registers h for service's operation, replacing any earlier handler.
// service is the SigV4 signing name ("iam", "ec2", "sts", "sqs", ...).
func (s *Server) On(service, operation string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[service+":"+operation] = h
}

// OnREST registers h for a REST-JSON operation reached by method and path
// pattern, as in the SDK's serializer: "/detector/{DetectorId}/findings/archive".
// A {Label} matches one path segment and a {Label+} the rest of the path;
// the values are in Request.PathParams. A pattern may end in "?key" (or
// "?key1&key2"): the route then matches only requests whose URL query has
// those keys, as S3 tells "GET /{Bucket}?tagging" from
// "GET /{Bucket}?publicAccessBlock".
func (s *Server) OnREST(service, operation, method, pattern string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, q, _ := strings.Cut(pattern, "?")
	var query []string
	if q != "" {
		query = strings.Split(q, "&")
	}
	s.routes = append(s.routes, route{
		service:   service,
		operation: operation,
		method:    strings.ToUpper(method),
		segments:  splitPath(path),
		query:     query,
	})
	s.handlers[service+":"+operation] = h
}

// AllowUnexpected stops reporting calls that no handler is registered for
// as test errors. They are still recorded and answered with an error.
func (s *Server) AllowUnexpected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unexpected = true
}

// Calls returns every call received so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Operations returns the calls received so far as "service:Operation"
// strings ("iam:GetUser"), in arrival order.
func (s *Server) Operations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := make([]string, len(s.calls))
	for i, c := range s.calls {
		ops[i] = c.Service + ":" + c.Operation
	}
	return ops
}

// Reset forgets the recorded calls; handlers stay registered. Request ids
// keep counting up.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	service, region := credentialScope(hr.Header.Get("Authorization"))
	proto := detectProtocol(hr, service)

	req := &Request{
		Call: Call{
			Service: service,
			Region:  region,
			Method:  hr.Method,
			Path:    hr.URL.Path,
			Query:   hr.URL.Query(),
			Body:    body,
		},
		Header: hr.Header.Clone(),
		ctx:    hr.Context(),
	}
	switch proto {
	case protoQuery, protoEC2:
		req.Form, _ = url.ParseQuery(string(body))
		req.Operation = req.Form.Get("Action")
	case protoJSON:
		req.JSON = decodeObject(body)
		target := hr.Header.Get("X-Amz-Target")
		req.Operation = target[strings.LastIndex(target, ".")+1:]
	case protoREST:
		req.JSON = decodeObject(body)
	}

	s.mu.Lock()
	if proto == protoREST {
		req.Operation, req.PathParams = s.matchRoute(service, hr.Method, hr.URL.EscapedPath(), req.Query)
	}
	s.seq++
	req.RequestID = fmt.Sprintf("req-%04d", s.seq)
	s.calls = append(s.calls, req.Call)
	h, ok := s.handlers[service+":"+req.Operation]
	allow := s.unexpected
	s.mu.Unlock()

	var resp Response
	if ok {
		resp = s.run(h, req, proto)
	} else {
		if !allow {
			s.tb.Errorf("unexpected AWS call %s:%s", service, req.Operation)
		}
		resp = protocolError(proto, http.StatusBadRequest, unknownOperationCode(proto),
			fmt.Sprintf("awsfake: no handler for %s:%s", service, req.Operation))
	}
	writeResponse(w, resp, req.RequestID, proto)
}

// run calls h, turning a panic into a reported test error and a 500 reply
// so one broken handler does not hide the rest of the test's failures.
func (s *Server) run(h Handler, req *Request, proto protocol) (resp Response) {
	defer func() {
		if v := recover(); v != nil {
			s.tb.Errorf("awsfake handler for %s:%s panicked: %v", req.Service, req.Operation, v)
			resp = protocolError(proto, http.StatusInternalServerError, "InternalFailure", "awsfake: handler panicked")
		}
	}()
	return h(req)
}

func (s *Server) matchRoute(service, method, escapedPath string, query url.Values) (string, map[string]string) {
	segs := splitPath(escapedPath)
	for _, r := range s.routes {
		if r.service != service || r.method != method {
			continue
		}
		if slices.ContainsFunc(r.query, func(k string) bool { return !query.Has(k) }) {
			continue
		}
		if params, ok := matchSegments(r.segments, segs); ok {
			return r.operation, params
		}
	}
	p, err := url.PathUnescape(escapedPath)
	if err != nil {
		p = escapedPath
	}
	return method + " " + p, nil
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// matchSegments matches escaped path segments against a route pattern.
func matchSegments(pattern, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			rest := strings.Join(segs[min(i, len(segs)):], "/")
			v, err := url.PathUnescape(rest)
			if err != nil || rest == "" {
				return nil, false
			}
			params[p[1:len(p)-2]] = v
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	if len(pattern) != len(segs) {
		return nil, false
	}
	return params, true
}

// credentialScope returns the service and region of a SigV4 (or SigV4a,
// which has no region) Authorization header.
func credentialScope(auth string) (service, region string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	// AKID/date/region/service/aws4_request or AKID/date/service/aws4_request
	switch len(parts) {
	case 5:
		return parts[3], parts[2]
	case 4:
		return parts[2], ""
	}
	return "", ""
}

func detectProtocol(r *http.Request, service string) protocol {
	if r.Header.Get("X-Amz-Target") != "" {
		return protoJSON
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if service == "ec2" {
			return protoEC2
		}
		return protoQuery
	}
	return protoREST
}

func decodeObject(body []byte) map[string]any {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil
	}
	return m
}

func unknownOperationCode(p protocol) string {
	if p == protoQuery || p == protoEC2 {
		return "InvalidAction"
	}
	return "UnknownOperationException"
}

func protocolError(p protocol, status int, code, message string) Response {
	var r Response
	switch p {
	case protoQuery:
		r = QueryError(code, message)
	case protoEC2:
		r = EC2Error(code, message)
	default:
		r = JSONError(code, message)
	}
	return r.WithStatus(status)
}

func writeResponse(w http.ResponseWriter, resp Response, requestID string, p protocol) {
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = slices.Clone(vs)
	}
	if h.Get("Content-Type") == "" {
		switch p {
		case protoQuery, protoEC2:
			h.Set("Content-Type", "text/xml")
		case protoJSON:
			h.Set("Content-Type", "application/x-amz-json-1.0")
		default:
			h.Set("Content-Type", "application/json")
		}
	}
	h.Set("X-Amzn-RequestId", requestID)
	h.Set("X-Amz-Request-Id", requestID) // the header S3 carries it in
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, strings.ReplaceAll(resp.Body, RequestIDPlaceholder, requestID))
}

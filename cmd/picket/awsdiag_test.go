package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go/logging"

	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/awsfake"
)

// TestCheckPrintsTheAWSCause: when Picket cannot even tell which account
// it runs in, `picket check` prints the AWS error underneath (here an
// invalid token) and the region and endpoint it used, not only its own
// sentence.
func TestCheckPrintsTheAWSCause(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryError("InvalidClientTokenId", "The security token included in the request is invalid.")))
	env := checkEnv(t, srv)

	code, _, errOut := runCheck(t, env, "iam.password-policy")
	if code != exitIncomplete {
		t.Errorf("got exit %d, want %d", code, exitIncomplete)
	}
	for _, want := range []string{"sts:GetCallerIdentity", "InvalidClientTokenId", "The security token included in the request is invalid",
		"region us-east-1", "endpoint " + srv.URL(), "credentials from EnvConfigCredentials"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestStatusNamesAWSSettings: /picket status says which region and
// endpoint the failed AWS call used beside the AWS error.
func TestStatusNamesAWSSettings(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryError("ExpiredToken", "The security token included in the request is expired")))
	cfg := config.Default()
	cfg.Slack.APIURL = "http://127.0.0.1:1/api/"
	st := statusFunc(cfg, srv.Config(), nil, nil, nil, nil)(context.Background())
	if st.AWSOK {
		t.Fatal("got AWS reachable, want not")
	}
	for _, want := range []string{"ExpiredToken", "region us-east-1", "endpoint " + srv.URL()} {
		if !strings.Contains(st.AWSError, want) {
			t.Errorf("AWS error %q lacks %q", st.AWSError, want)
		}
	}
}

// TestAWSSDKLogsThroughSlog: the SDK's own log lines are JSON lines of the
// configured logger, not plain text on standard error.
func TestAWSSDKLogsThroughSlog(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	awsCfg, err := loadAWS(ctx, config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := awsCfg.Logger.(sdkLogger); !ok {
		t.Fatalf("got SDK logger %T, want the slog adapter", awsCfg.Logger)
	}

	var buf bytes.Buffer
	l := sdkLogger{log: newLogger(&buf, config.Log{Level: "info", Format: "json"})}
	l.Logf(logging.Warn, "retrying request %s, attempt %d", "GetQueueAttributes", 2)
	l.Logf(logging.Debug, "not shown at info")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (debug hidden at info):\n%s", len(lines), buf.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("SDK log line is not JSON: %v\n%s", err, lines[0])
	}
	if line["level"] != "WARN" || line["msg"] != "retrying request GetQueueAttributes, attempt 2" || line["source"] != "aws-sdk" {
		t.Errorf("got %v, want level WARN, the message and source aws-sdk", line)
	}
}

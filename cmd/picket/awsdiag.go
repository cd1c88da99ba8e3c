package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
)

// awsSettings says where AWS calls go: the region, the endpoint and, when
// withCredentials, where the credentials come from (the provider's name,
// never the keys) or why none were found. A failed call is explained with
// it, because most failures at start-up are one of the three.
func awsSettings(ctx context.Context, awsCfg aws.Config, withCredentials bool) string {
	region := cmp.Or(awsCfg.Region, "none (set AWS_REGION)")
	endpoint := "the default for the region"
	if awsCfg.BaseEndpoint != nil && *awsCfg.BaseEndpoint != "" {
		endpoint = *awsCfg.BaseEndpoint
	}
	s := fmt.Sprintf("region %s, endpoint %s", region, endpoint)
	if !withCredentials {
		return s
	}
	creds := "none configured"
	if awsCfg.Credentials != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := awsCfg.Credentials.Retrieve(ctx)
		switch {
		case err != nil:
			creds = "not found: " + err.Error()
		default:
			creds = "from " + cmp.Or(c.Source, "the default chain")
		}
	}
	return s + ", credentials " + creds
}

// awsFailure explains a failed AWS call to the person who ran a command:
// Picket's sentence, the cause underneath it (the AWS error with its code,
// or why no credentials were found), and the settings the call used.
func awsFailure(ctx context.Context, err error, awsCfg aws.Config) string {
	msg := err.Error()
	var pe *picket.Error
	if errors.As(err, &pe) {
		msg = pe.Message
		if pe.Err != nil {
			msg += "\n  cause: " + pe.Err.Error()
		}
	}
	return msg + "\n  AWS: " + awsSettings(ctx, awsCfg, true)
}

// sdkLogger sends what the AWS SDK logs (retries, deprecations, clock skew)
// through log, so it is JSON like every other line, at warn for warnings
// and debug for the rest.
type sdkLogger struct{ log *slog.Logger }

// Logf implements logging.Logger.
func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "source", "aws-sdk")
}

// awsLogger is the SDK's logger for a process whose log is configured by
// c: the same handler on standard error as newLogger's.
func awsLogger(c config.Log) logging.Logger {
	return sdkLogger{log: newLogger(os.Stderr, c)}
}

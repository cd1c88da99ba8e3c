package main

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/metrics"
)

func TestAWSCallMetricsObserveServiceAndOperation(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/picket</Arn><UserId>AIDA</UserId>`)))
	srv.On("sts", "GetSessionToken", awsfake.Reply(awsfake.QueryError("AccessDenied", "no")))
	calls := metrics.NewHistogramVec([]string{"service", "operation", "outcome"}, 1)
	cfg := srv.Config()
	cfg.APIOptions = append(cfg.APIOptions, awsCallMetrics(calls, time.Now))
	client := sts.NewFromConfig(cfg)
	if _, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetSessionToken(context.Background(), &sts.GetSessionTokenInput{}); err == nil {
		t.Fatal("got no error from GetSessionToken, want AccessDenied")
	}
	for _, tc := range []struct {
		operation, outcome string
		want               uint64
	}{
		{"GetCallerIdentity", "ok", 1},
		{"GetSessionToken", "error", 1},
		{"GetSessionToken", "ok", 0},
	} {
		t.Run(tc.operation+"/"+tc.outcome, func(t *testing.T) {
			if got := calls.Count("STS", tc.operation, tc.outcome); got != tc.want {
				t.Errorf("got %d observations, want %d", got, tc.want)
			}
		})
	}
}

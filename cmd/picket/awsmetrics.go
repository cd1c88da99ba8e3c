package main

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket/metrics"
)

// awsCallMetrics returns an SDK API option that observes the seconds each
// AWS call took, retries included, labelled service (the SDK's service
// id: "SQS", "IAM"...), operation and outcome (ok or error). Add it to
// aws.Config.APIOptions; every client built from that configuration
// (other accounts' included) is then measured.
func awsCallMetrics(h *metrics.HistogramVec, now func() time.Time) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		// After the service metadata middleware (also in Initialize), so
		// the context names the service and operation; Initialize runs
		// once per call, around every retry.
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("PicketCallMetrics",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := now()
				out, md, err := next.HandleInitialize(ctx, in)
				outcome := "ok"
				if err != nil {
					outcome = "error"
				}
				h.Observe(now().Sub(start).Seconds(), awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), outcome)
				return out, md, err
			}), middleware.After)
	}
}

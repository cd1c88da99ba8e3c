// Package awsfake is one recording HTTP server that every aws-sdk-go-v2
// client in a test can point at, so the SDK's real request serialization
// and response decoding are exercised without AWS.
//
// No emulator exists here for IAM, EC2, STS, Auto Scaling, Security Hub,
// GuardDuty or Detective, so tests register canned replies per operation
// and assert on the decoded requests that the server recorded:
//
//	srv := awsfake.New(t)
//	srv.On("iam", "GetUser", awsfake.Reply(awsfake.QueryResult("GetUser", `<User>...</User>`)))
//	client := iam.NewFromConfig(srv.Config())
//	// ... code under test calls client.GetUser ...
//	if got := srv.Operations(); !slices.Equal(got, []string{"iam:GetUser"}) { ... }
//
// Config sets aws.Config.BaseEndpoint, which every service client built with
// NewFromConfig copies into its Options. A client built from some other
// aws.Config can be pointed at the server with the per-client option:
//
//	iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
//
// The server tells services and operations apart the way AWS does:
//
//   - the service is the signing name in the SigV4 credential scope of the
//     Authorization header (Credential=AKID/date/region/SERVICE/aws4_request);
//   - query-protocol services (IAM, EC2, STS, Auto Scaling, SNS) name the
//     operation in the form field Action;
//   - JSON-protocol services (SQS, ...) name it in X-Amz-Target
//     ("AmazonSQS.ReceiveMessage" is ReceiveMessage);
//   - REST-JSON services (Security Hub, GuardDuty, Detective) are matched by
//     method and path against the routes registered with OnREST, using the
//     paths in the SDK's serializers ("PATCH /findings/batchupdate").
//
// Every call is recorded in order, with its decoded parameters and the
// request id it was answered with. A call that nothing was registered for is
// answered with an error in the service's protocol and reported through
// tb.Errorf, so a test cannot silently miss a call; AllowUnexpected turns
// the report off.
package awsfake

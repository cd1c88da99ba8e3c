package fauxqs_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/picketsec/picket/internal/fauxqs"
)

func TestStart(t *testing.T) {
	e := fauxqs.Start(t)
	if got := e.URL(); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", got)
	}
	cfg := e.AWSConfig()
	if got := aws.ToString(cfg.BaseEndpoint); got != e.URL() {
		t.Errorf("AWSConfig().BaseEndpoint = %q, want %q", got, e.URL())
	}
	if cfg.Region != fauxqs.Region {
		t.Errorf("AWSConfig().Region = %q, want %q", cfg.Region, fauxqs.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("retrieve credentials: %v", err)
	}
	if creds.AccessKeyID != "test" || creds.SecretAccessKey != "test" {
		t.Errorf("credentials = %q/%q, want test/test", creds.AccessKeyID, creds.SecretAccessKey)
	}
}

func TestPublishDelivery(t *testing.T) {
	e := fauxqs.Start(t)
	ctx := context.Background()
	const message = `{"detail-type":"GuardDuty Finding","detail":{"id":"abc"}}`

	tests := []struct {
		name string
		raw  bool
	}{
		{"envelope", false},
		{"raw", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queueURL, _ := e.CreateQueueWithDLQ(ctx, "delivery-"+tt.name, 3, 30*time.Second)
			topicARN := e.CreateTopicSubscribedTo(ctx, "findings-"+tt.name, queueURL, tt.raw)
			snsID := e.Publish(ctx, topicARN, message)

			bodies := e.Drain(ctx, queueURL)
			if len(bodies) != 1 {
				t.Fatalf("got %d messages, want 1", len(bodies))
			}
			if tt.raw {
				if bodies[0] != message {
					t.Errorf("got body %q, want the published message %q", bodies[0], message)
				}
				return
			}
			var env struct {
				Type, MessageID, TopicArn, Message, Signature string
			}
			if err := json.Unmarshal([]byte(bodies[0]), &env); err != nil {
				t.Fatalf("body is not an SNS envelope: %v: %s", err, bodies[0])
			}
			if env.Type != "Notification" {
				t.Errorf("got Type %q, want Notification", env.Type)
			}
			if env.Message != message {
				t.Errorf("got Message %q, want %q", env.Message, message)
			}
			if env.TopicArn != topicARN {
				t.Errorf("got TopicArn %q, want %q", env.TopicArn, topicARN)
			}
			if env.MessageID != snsID {
				t.Errorf("got MessageId %q, want the publish's %q", env.MessageID, snsID)
			}
		})
	}
}

func TestRedriveToDLQ(t *testing.T) {
	e := fauxqs.Start(t)
	ctx := context.Background()
	const maxReceiveCount = 2
	queueURL, dlqURL := e.CreateQueueWithDLQ(ctx, "redrive", maxReceiveCount, time.Second)
	id := e.Send(ctx, queueURL, "poison")

	// Receive without deleting until the message has been seen
	// maxReceiveCount times; the next receive moves it to the DLQ.
	var counts []string
	deadline := time.Now().Add(30 * time.Second)
	for len(counts) < maxReceiveCount+2 && time.Now().Before(deadline) {
		out, err := e.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(queueURL),
			WaitTimeSeconds:             2,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			if len(counts) >= maxReceiveCount {
				break
			}
			continue
		}
		m := out.Messages[0]
		if got := aws.ToString(m.MessageId); got != id {
			t.Fatalf("received message %s, want %s", got, id)
		}
		counts = append(counts, m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	}
	want := []string{"1", "2"}
	if strings.Join(counts, ",") != strings.Join(want, ",") {
		t.Errorf("got receive counts %v, want %v", counts, want)
	}

	if visible, inFlight := e.Count(ctx, queueURL); visible != 0 || inFlight != 0 {
		t.Errorf("source queue: got %d visible, %d in flight, want 0, 0", visible, inFlight)
	}
	if visible, _ := e.Count(ctx, dlqURL); visible != 1 {
		t.Errorf("DLQ: got %d visible, want 1", visible)
	}
	if got := e.Drain(ctx, dlqURL); len(got) != 1 || got[0] != "poison" {
		t.Errorf("DLQ bodies: got %q, want [poison]", got)
	}
}

func TestCount(t *testing.T) {
	e := fauxqs.Start(t)
	ctx := context.Background()
	queueURL, _ := e.CreateQueueWithDLQ(ctx, "count", 5, time.Minute)
	for i := range 3 {
		e.Send(ctx, queueURL, "m"+strconv.Itoa(i))
	}
	if _, err := e.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 1}); err != nil {
		t.Fatalf("receive: %v", err)
	}
	visible, inFlight := e.Count(ctx, queueURL)
	if visible != 2 || inFlight != 1 {
		t.Errorf("got %d visible, %d in flight, want 2, 1", visible, inFlight)
	}
	if got := e.Drain(ctx, queueURL); len(got) != 2 {
		t.Errorf("Drain: got %d bodies, want 2", len(got))
	}
}

package fauxqs

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// The helpers below fail the test that started the emulator on any error, so
// they must be called from that test's goroutine (or a subtest of it).

// CreateQueueWithDLQ creates the queue name and its dead-letter queue
// name+"-dlq", with a redrive policy that moves a message to the DLQ once it
// has been received maxReceiveCount times without being deleted. visibility
// is the queue's default visibility timeout, rounded up to whole seconds.
func (e *Emulator) CreateQueueWithDLQ(ctx context.Context, name string, maxReceiveCount int, visibility time.Duration) (queueURL, dlqURL string) {
	e.tb.Helper()
	dlq, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		e.tb.Fatalf("create queue %s-dlq: %v", name, err)
	}
	dlqURL = aws.ToString(dlq.QueueUrl)
	policy, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": e.QueueARN(ctx, dlqURL),
		"maxReceiveCount":     maxReceiveCount,
	})
	if err != nil {
		e.tb.Fatalf("encode redrive policy: %v", err)
	}
	q, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(name),
		Attributes: map[string]string{
			string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(seconds(visibility)),
			string(types.QueueAttributeNameRedrivePolicy):     string(policy),
		},
	})
	if err != nil {
		e.tb.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(q.QueueUrl), dlqURL
}

// QueueARN returns the ARN of the queue at queueURL.
func (e *Emulator) QueueARN(ctx context.Context, queueURL string) string {
	e.tb.Helper()
	out, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		e.tb.Fatalf("get ARN of queue %s: %v", queueURL, err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		e.tb.Fatalf("queue %s has no QueueArn attribute", queueURL)
	}
	return arn
}

// CreateTopicSubscribedTo creates the SNS topic topicName and subscribes the
// queue at queueURL to it, with raw message delivery when raw is true. It
// returns the topic ARN. fauxqs delivers to a subscribed queue without the
// queue policy that real AWS requires, so none is set.
func (e *Emulator) CreateTopicSubscribedTo(ctx context.Context, topicName, queueURL string, raw bool) (topicARN string) {
	e.tb.Helper()
	t, err := e.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(topicName)})
	if err != nil {
		e.tb.Fatalf("create topic %s: %v", topicName, err)
	}
	topicARN = aws.ToString(t.TopicArn)
	in := &sns.SubscribeInput{
		TopicArn: aws.String(topicARN),
		Protocol: aws.String("sqs"),
		Endpoint: aws.String(e.QueueARN(ctx, queueURL)),
	}
	if raw {
		in.Attributes = map[string]string{"RawMessageDelivery": "true"}
	}
	if _, err := e.sns.Subscribe(ctx, in); err != nil {
		e.tb.Fatalf("subscribe %s to topic %s: %v", queueURL, topicName, err)
	}
	return topicARN
}

// Publish publishes message to the topic and returns the SNS message id.
func (e *Emulator) Publish(ctx context.Context, topicARN, message string) (messageID string) {
	e.tb.Helper()
	out, err := e.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN), Message: aws.String(message)})
	if err != nil {
		e.tb.Fatalf("publish to %s: %v", topicARN, err)
	}
	return aws.ToString(out.MessageId)
}

// Send sends body straight to the queue and returns the SQS message id.
func (e *Emulator) Send(ctx context.Context, queueURL, body string) (messageID string) {
	e.tb.Helper()
	out, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)})
	if err != nil {
		e.tb.Fatalf("send to %s: %v", queueURL, err)
	}
	return aws.ToString(out.MessageId)
}

// Count returns how many messages of the queue are visible and how many are
// in flight (received, neither deleted nor returned), from
// GetQueueAttributes. fauxqs returns an expired in-flight message to the
// visible set lazily, on the queue's next receive or long-poll tick, so right
// after a visibility timeout it may still count as in flight.
func (e *Emulator) Count(ctx context.Context, queueURL string) (visible, inFlight int) {
	e.tb.Helper()
	out, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		e.tb.Fatalf("get attributes of queue %s: %v", queueURL, err)
	}
	visible = atoi(e, out.Attributes, string(types.QueueAttributeNameApproximateNumberOfMessages))
	inFlight = atoi(e, out.Attributes, string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible))
	return visible, inFlight
}

// Drain receives and deletes every message visible in the queue now and
// returns their bodies in the order received. It does not wait for messages
// in flight.
func (e *Emulator) Drain(ctx context.Context, queueURL string) []string {
	e.tb.Helper()
	var bodies []string
	for {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(queueURL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     0,
		})
		if err != nil {
			e.tb.Fatalf("receive from %s: %v", queueURL, err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.tb.Fatalf("delete %s from %s: %v", aws.ToString(m.MessageId), queueURL, err)
			}
		}
	}
}

func atoi(e *Emulator, attrs map[string]string, name string) int {
	e.tb.Helper()
	n, err := strconv.Atoi(attrs[name])
	if err != nil {
		e.tb.Fatalf("queue attribute %s = %q: %v", name, attrs[name], err)
	}
	return n
}

// seconds rounds d up to whole seconds, the unit SQS counts time in.
func seconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

package deploy_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestQueueAlarms checks the CloudWatch alarms: the DLQ with any visible
// message and the queue's oldest message older than 300 seconds, both
// notifying the configured SNS topic, and neither created without one.
func TestQueueAlarms(t *testing.T) {
	m := loadModule(t, mainModule)
	const topic = "arn:aws:sns:us-east-1:111122223333:oncall"
	ctx, err := m.evalContext(map[string]cty.Value{"alarm_topic_arn": cty.StringVal(topic)})
	if err != nil {
		t.Fatal(err)
	}
	// Resources evaluate to placeholders naming the attribute referenced.
	dlqName, queueName := cty.StringVal("aws_sqs_queue.dlq.name"), cty.StringVal("aws_sqs_queue.findings.name")
	tests := []struct {
		key, metric, comparison string
		threshold               int64
		queue                   cty.Value
	}{
		{"aws_cloudwatch_metric_alarm.dlq_not_empty", "ApproximateNumberOfMessagesVisible", "GreaterThanThreshold", 0, dlqName},
		{"aws_cloudwatch_metric_alarm.queue_lag", "ApproximateAgeOfOldestMessage", "GreaterThanThreshold", 300, queueName},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			b := m.resources[tt.key]
			if b == nil {
				t.Fatalf("%s not declared", tt.key)
			}
			get := func(name string) cty.Value {
				t.Helper()
				v, err := m.attr(ctx, b, name)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			if got := get("namespace").AsString(); got != "AWS/SQS" {
				t.Errorf("got namespace %q, want AWS/SQS", got)
			}
			if got := get("metric_name").AsString(); got != tt.metric {
				t.Errorf("got metric %q, want %q", got, tt.metric)
			}
			if got := get("comparison_operator").AsString(); got != tt.comparison {
				t.Errorf("got comparison %q, want %q", got, tt.comparison)
			}
			if got, _ := get("threshold").AsBigFloat().Int64(); got != tt.threshold {
				t.Errorf("got threshold %d, want %d", got, tt.threshold)
			}
			if got := get("dimensions").GetAttr("QueueName"); !got.RawEquals(tt.queue) {
				t.Errorf("got QueueName %#v, want %#v", got, tt.queue)
			}
			for _, name := range []string{"alarm_actions", "ok_actions"} {
				v := get(name)
				if v.LengthInt() != 1 || v.Index(cty.NumberIntVal(0)).AsString() != topic {
					t.Errorf("got %s %#v, want [%s]", name, v, topic)
				}
			}
			if got, _ := get("count").AsBigFloat().Int64(); got != 1 {
				t.Errorf("got count %d with a topic, want 1", got)
			}
		})
	}
	t.Run("no topic no alarms", func(t *testing.T) {
		ctx, err := m.evalContext(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			v, err := m.attr(ctx, m.resources[tt.key], "count")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := v.AsBigFloat().Int64(); got != 0 {
				t.Errorf("%s: got count %d without a topic, want 0", tt.key, got)
			}
		}
	})
}

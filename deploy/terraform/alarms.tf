# CloudWatch alarms on the findings queue and its dead-letter queue. They
# watch from outside Picket, so they fire even when Picket is down and its
# own metrics are silent. Set alarm_topic_arn to create them.

variable "alarm_topic_arn" {
  description = "SNS topic the queue alarms notify, when they fire and when they clear. Empty: no alarms are created."
  type        = string
  default     = ""
}

variable "queue_age_alarm_seconds" {
  description = "Age in seconds of the queue's oldest message above which the lag alarm fires (findings are waiting and Picket is not taking them)."
  type        = number
  default     = 300

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "The queue_age_alarm_seconds must be at least 60: SQS metrics are reported once a minute."
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  count = var.alarm_topic_arn == "" ? 0 : 1

  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "Findings reached Picket's dead-letter queue: they failed every delivery attempt and no Slack alert was posted for them. See README, Operating Picket."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_lag" {
  count = var.alarm_topic_arn == "" ? 0 : 1

  alarm_name          = "${var.name}-queue-lag"
  alarm_description   = "The oldest finding in Picket's queue has waited longer than the threshold: Picket is down, stuck or too slow. See README, Operating Picket."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.findings.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

output "queue_url" {
  description = "URL of the findings queue Picket consumes (PICKET_QUEUE_URL)."
  value       = aws_sqs_queue.findings.url
}

output "queue_arn" {
  description = "ARN of the findings queue."
  value       = aws_sqs_queue.findings.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue: messages Picket could not handle after max_receive_count tries."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "topic_arn" {
  description = "ARN of the SNS topic the EventBridge rules publish to."
  value       = aws_sns_topic.findings.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the topic."
  value       = aws_kms_key.findings.arn
}

output "bot_role_arn" {
  description = "ARN of the role Picket runs as; member accounts' responder roles trust it (member module's bot_role_arn)."
  value       = aws_iam_role.bot.arn
}

output "instance_profile_name" {
  description = "Name of the EC2 instance profile, when create_instance_profile is true."
  value       = try(aws_iam_instance_profile.bot[0].name, null)
}

output "custom_action_arn" {
  description = "ARN of the Security Hub custom action \"Send to Slack\", when enable_custom_action is true."
  value       = try(aws_securityhub_action_target.picket[0].arn, null)
}

output "event_rule_arns" {
  description = "ARNs of the EventBridge rules, by purpose."
  value = merge(
    {
      guardduty            = aws_cloudwatch_event_rule.guardduty.arn
      securityhub_imported = aws_cloudwatch_event_rule.securityhub_imported.arn
    },
    { for r in aws_cloudwatch_event_rule.securityhub_custom_action : "securityhub_custom_action" => r.arn },
  )
}

output "environment" {
  description = "Environment variables Picket needs to consume the queue; add the Slack tokens (SLACK_BOT_TOKEN, SLACK_APP_TOKEN) yourself."
  value = {
    PICKET_QUEUE_URL = aws_sqs_queue.findings.url
    AWS_REGION       = data.aws_region.current.name
  }
}

output "slack_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Slack tokens (run_picket), created empty: fill it with aws secretsmanager put-secret-value (docs/deploy.md)."
  value       = local.slack_secret_arn
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster Picket runs in (run_picket)."
  value       = one(aws_ecs_cluster.picket[*].name)
}

output "ecs_service_name" {
  description = "Name of Picket's ECS service (run_picket)."
  value       = one(aws_ecs_service.picket[*].name)
}

output "log_group_name" {
  description = "CloudWatch log group of the Picket task (run_picket)."
  value       = one(aws_cloudwatch_log_group.picket[*].name)
}

output "data_file_system_id" {
  description = "EFS file system holding Picket's /data (run_picket): back it up, never share it between two tasks."
  value       = one(aws_efs_file_system.data[*].id)
}

# Picket's AWS wiring in the account that receives the findings (the
# GuardDuty / Security Hub delegated administrator in an organization):
#
#   EventBridge rules -> SNS topic (KMS) -> SQS queue (+ dead-letter queue) -> Picket
#
# and the IAM role Picket runs as, with exactly deploy/iam-policy.json.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Security Hub severity labels, lowest first. The Imported rule sends the
  # labels at or above var.min_severity.
  severity_labels = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
  severity_rank   = { INFORMATIONAL = 0, LOW = 1, MEDIUM = 2, HIGH = 3, CRITICAL = 4 }
  imported_labels = [for l in local.severity_labels : l if local.severity_rank[l] >= local.severity_rank[upper(var.min_severity)]]

  # Event patterns, kept here so that the offline tests in deploy/ evaluate
  # and match exactly what is deployed.
  guardduty_pattern = jsonencode({
    source        = ["aws.guardduty"]
    "detail-type" = ["GuardDuty Finding"]
    detail = {
      severity = [{ numeric = [">=", var.min_guardduty_severity] }]
      # An archived finding needs no alert.
      service = { archived = [false] }
    }
  })

  imported_pattern = jsonencode({
    source        = ["aws.securityhub"]
    "detail-type" = ["Security Hub Findings - Imported"]
    detail = {
      findings = {
        Severity    = { Label = local.imported_labels }
        RecordState = ["ACTIVE"]
        Workflow    = { Status = ["NEW", "NOTIFIED"] }
      }
    }
  })

  custom_action_pattern = jsonencode({
    source        = ["aws.securityhub"]
    "detail-type" = ["Security Hub Findings - Custom Action"]
    # Only Picket's own action: other tools' custom actions are theirs.
    resources = [for a in aws_securityhub_action_target.picket : a.arn]
  })
}

# --- KMS key for the SNS topic --------------------------------------------

resource "aws_kms_key" "findings" {
  description         = "${var.name}: encrypts the findings SNS topic"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # EventBridge publishes to the encrypted topic and SNS reads what it
        # delivers to the queue; both only for this account.
        Sid       = "EventBridgeAndSNSUseTheKey"
        Effect    = "Allow"
        Principal = { Service = ["events.amazonaws.com", "sns.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "findings" {
  name          = "alias/${var.name}-findings"
  target_key_id = aws_kms_key.findings.key_id
}

# --- SNS topic -----------------------------------------------------------

resource "aws_sns_topic" "findings" {
  name              = "${var.name}-findings"
  kms_master_key_id = aws_kms_key.findings.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "findings" {
  arn = aws_sns_topic.findings.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgePublishes"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.findings.arn
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

# --- SQS queue and dead-letter queue -------------------------------------

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-findings-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "findings" {
  name                       = "${var.name}-findings"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  # SQS-managed encryption: SNS can deliver to it without a key grant.
  sqs_managed_sse_enabled = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.findings.arn]
  })
}

# Only the findings topic may send to the queue.
resource "aws_sqs_queue_policy" "findings" {
  queue_url = aws_sqs_queue.findings.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyTheFindingsTopic"
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.findings.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn } }
    }]
  })
}

resource "aws_sns_topic_subscription" "findings" {
  topic_arn = aws_sns_topic.findings.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.findings.arn
  # Picket reads both the SNS envelope and raw delivery; the envelope keeps
  # the topic ARN and message id in what lands in the DLQ.
  raw_message_delivery = false
}

# --- EventBridge rules ---------------------------------------------------

resource "aws_cloudwatch_event_rule" "guardduty" {
  name          = "${var.name}-guardduty-findings"
  description   = "GuardDuty findings at or above severity ${var.min_guardduty_severity} to Picket"
  event_pattern = local.guardduty_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "guardduty" {
  rule = aws_cloudwatch_event_rule.guardduty.name
  arn  = aws_sns_topic.findings.arn
}

resource "aws_cloudwatch_event_rule" "securityhub_imported" {
  name          = "${var.name}-securityhub-imported"
  description   = "Active, new or notified Security Hub findings at or above ${upper(var.min_severity)} to Picket"
  event_pattern = local.imported_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "securityhub_imported" {
  rule = aws_cloudwatch_event_rule.securityhub_imported.name
  arn  = aws_sns_topic.findings.arn
}

resource "aws_securityhub_action_target" "picket" {
  count       = var.enable_custom_action ? 1 : 0
  name        = "Send to Slack"
  identifier  = var.custom_action_id
  description = "Post the selected findings to Slack with Picket"
}

resource "aws_cloudwatch_event_rule" "securityhub_custom_action" {
  count         = var.enable_custom_action ? 1 : 0
  name          = "${var.name}-securityhub-custom-action"
  description   = "Findings sent to Slack from the Security Hub console"
  event_pattern = local.custom_action_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "securityhub_custom_action" {
  count = var.enable_custom_action ? 1 : 0
  rule  = aws_cloudwatch_event_rule.securityhub_custom_action[0].name
  arn   = aws_sns_topic.findings.arn
}

# --- IAM role of the bot -------------------------------------------------

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = length(var.trusted_services) > 0 ? [1] : []
    content {
      sid     = "Services"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = var.trusted_services
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.trusted_role_arns) > 0 ? [1] : []
    content {
      sid     = "Principals"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = var.trusted_role_arns
      }
    }
  }

  dynamic "statement" {
    for_each = var.irsa == null ? [] : [var.irsa]
    content {
      sid     = "KubernetesServiceAccount"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [statement.value.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${replace(statement.value.oidc_provider_arn, "/^arn:[^:]+:iam::[0-9]+:oidc-provider\\//", "")}:sub"
        values   = ["system:serviceaccount:${statement.value.namespace}:${statement.value.service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${replace(statement.value.oidc_provider_arn, "/^arn:[^:]+:iam::[0-9]+:oidc-provider\\//", "")}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "bot" {
  name               = "${var.name}-bot"
  description        = "Picket: reads the findings queue, enriches alerts and runs the response buttons"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags
}

# Exactly the actions Picket calls; a test in actions/ keeps the file and the
# code in step.
resource "aws_iam_role_policy" "bot" {
  name   = "${var.name}-bot"
  role   = aws_iam_role.bot.id
  policy = file("${path.module}/../iam-policy.json")
}

resource "aws_iam_instance_profile" "bot" {
  count = var.create_instance_profile ? 1 : 0
  name  = "${var.name}-bot"
  role  = aws_iam_role.bot.name
}

# Picket's AWS wiring in the account that receives the findings (the
# GuardDuty / Security Hub delegated administrator in an organization):
#
#   EventBridge rules -> SNS topic (KMS) -> SQS queue (+ dead-letter queue) -> Picket
#
# and the IAM role Picket runs as, with deploy/iam-policy.json rendered for
# this deployment (its queue, account, escalation topic and member role).

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

  # The rules that may publish to the topic: the topic policy denies every
  # other source.
  rule_arns = concat(
    [aws_cloudwatch_event_rule.guardduty.arn, aws_cloudwatch_event_rule.securityhub_imported.arn],
    [for r in aws_cloudwatch_event_rule.securityhub_custom_action : r.arn],
    local.finding_source_rule_arns, # finding_sources.tf
  )

  # Where the Escalate statement lets Picket publish: the given topic, or
  # one named "<name>-escalations" in this account, in any region.
  escalation_topic_arn = var.escalation_topic_arn != "" ? var.escalation_topic_arn : "arn:${local.partition}:sns:*:${local.account_id}:${var.name}-escalations"

  # The placeholders of deploy/iam-policy.json: every write there is scoped
  # to these resources or by a condition.
  bot_policy_values = {
    partition            = local.partition
    account_id           = local.account_id
    queue_arn            = aws_sqs_queue.findings.arn
    escalation_topic_arn = local.escalation_topic_arn
    responder_role_name  = var.responder_role_name
    protected_tag        = var.protected_tag
    store_table_arn      = local.store_table_arn
  }

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

# Only this account's EventBridge rules may publish: anyone else, a
# principal of this account included, is denied, so nothing but an AWS
# finding event can reach the queue.
resource "aws_sns_topic_policy" "findings" {
  arn = aws_sns_topic.findings.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgePublishes"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.findings.arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnEquals    = { "aws:SourceArn" = local.rule_arns }
        }
      },
      {
        Sid       = "DenyOtherSources"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.findings.arn
        Condition = { ArnNotEquals = { "aws:SourceArn" = local.rule_arns } }
      },
      {
        Sid       = "DenyOtherAccounts"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.findings.arn
        Condition = { StringNotEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
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

# Only the findings topic may send to the queue: every other sender, a
# principal of this account included, is denied (but those named in
# queue_redrive_principal_arns, who move messages back from the DLQ).
resource "aws_sqs_queue_policy" "findings" {
  queue_url = aws_sqs_queue.findings.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "OnlyTheFindingsTopic"
        Effect    = "Allow"
        Principal = { Service = "sns.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.findings.arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn } }
      },
      {
        Sid       = "DenyOtherSenders"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.findings.arn
        Condition = merge(
          { ArnNotEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn } },
          length(var.queue_redrive_principal_arns) > 0 ? { ArnNotLike = { "aws:PrincipalArn" = var.queue_redrive_principal_arns } } : null,
        )
      },
    ]
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
  # Disabled when only Security Hub v2 events are wanted (finding_sources.tf).
  state = var.securityhub_format == "v2" ? "DISABLED" : "ENABLED"
  tags  = var.tags
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

locals {
  oidc_issuer = var.irsa == null ? "" : replace(var.irsa.oidc_provider_arn, "/^arn:[^:]+:iam::[0-9]+:oidc-provider\\//", "")

  # ECS tasks of this account only (the confused-deputy guard AWS documents
  # for task roles); other services as given.
  ecs_tasks      = "ecs-tasks.amazonaws.com"
  ecs_trusted    = distinct([for s in var.trusted_services : s if s == local.ecs_tasks])
  other_services = [for s in var.trusted_services : s if s != local.ecs_tasks]

  # Each is empty or holds one item, the statement's principals.
  service_groups   = length(local.other_services) > 0 ? [local.other_services] : []
  principal_groups = length(var.trusted_role_arns) > 0 ? [var.trusted_role_arns] : []
  irsa_configs     = var.irsa == null ? [] : [var.irsa]

  trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for svc in local.ecs_trusted : {
        Sid       = "EcsTasksOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = svc }
        Action    = "sts:AssumeRole"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:${local.account_id}:*" }
        }
      }],
      [for svcs in local.service_groups : {
        Sid       = "Services"
        Effect    = "Allow"
        Principal = { Service = svcs }
        Action    = "sts:AssumeRole"
      }],
      [for arns in local.principal_groups : {
        Sid       = "Principals"
        Effect    = "Allow"
        Principal = { AWS = arns }
        Action    = "sts:AssumeRole"
      }],
      [for irsa in local.irsa_configs : {
        Sid       = "KubernetesServiceAccount"
        Effect    = "Allow"
        Principal = { Federated = irsa.oidc_provider_arn }
        Action    = "sts:AssumeRoleWithWebIdentity"
        Condition = {
          StringEquals = {
            "${local.oidc_issuer}:sub" = "system:serviceaccount:${irsa.namespace}:${irsa.service_account}"
            "${local.oidc_issuer}:aud" = "sts.amazonaws.com"
          }
        }
      }],
    )
  })
}

resource "aws_iam_role" "bot" {
  name               = "${var.name}-bot"
  description        = "Picket: reads the findings queue, enriches alerts and runs the response buttons"
  assume_role_policy = local.trust_policy
  tags               = var.tags
}

# Exactly the actions Picket calls (a test in actions/ keeps the file and
# the code in step), every write scoped to this deployment's resources or
# by a condition (a test in deploy/ refuses a write on "*" without one).
resource "aws_iam_role_policy" "bot" {
  name   = "${var.name}-bot"
  role   = aws_iam_role.bot.id
  policy = jsonencode(jsondecode(templatefile("${path.module}/../iam-policy.json", local.bot_policy_values)))
}

resource "aws_iam_instance_profile" "bot" {
  count = var.create_instance_profile ? 1 : 0
  name  = "${var.name}-bot"
  role  = aws_iam_role.bot.name
}

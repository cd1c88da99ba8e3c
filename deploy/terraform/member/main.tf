# The role Picket assumes in a member account to run the response buttons
# there (disable user, quarantine instance, suppress), to look up the
# context of its alerts (users, instances) and to run the posture checks
# (picket check --account, /picket posture). Apply it in every
# member account Picket should act in; list each in Picket's configuration
# under responses.accounts with this role's ARN and the external id.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # deploy/iam-policy.json rendered for this account. The queue and the
  # escalation topic live in the security account: statements on them
  # (Ingest, Escalate) render empty and are left out below.
  picket_policy = jsondecode(templatefile("${path.module}/../../iam-policy.json", {
    partition            = data.aws_partition.current.partition
    account_id           = data.aws_caller_identity.current.account_id
    queue_arn            = ""
    escalation_topic_arn = ""
    responder_role_name  = var.role_name
    protected_tag        = var.protected_tag
    store_table_arn      = ""
  }))

  # The statements whose Sid starts with one of var.policy_sids, without
  # STS actions and without statements on the security account's
  # resources.
  statements = [
    for s in local.picket_policy.Statement : merge(s, {
      Action = [for a in flatten([s.Action]) : a if !startswith(lower(a), "sts:")]
    }) if length([for p in var.policy_sids : p if startswith(try(s.Sid, ""), p)]) > 0 && !contains(flatten([s.Resource]), "")
  ]

  responder_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [for s in local.statements : s if length(s.Action) > 0]
  })

  trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PicketBot"
      Effect    = "Allow"
      Principal = { AWS = var.bot_role_arn }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.external_id } }
    }]
  })
}

resource "aws_iam_role" "responder" {
  name                 = var.role_name
  description          = "Assumed by Picket to respond to findings in this account"
  assume_role_policy   = local.trust_policy
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "responder" {
  name   = "picket-responder"
  role   = aws_iam_role.responder.id
  policy = local.responder_policy
}

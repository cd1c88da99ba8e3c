# --- More finding sources (issue 12) --------------------------------------
#
# Security Hub v2 ("Findings Imported V2", OCSF) next to or instead of the
# v1 Imported rule, and the findings Inspector, Macie and IAM Access
# Analyzer send to EventBridge themselves. Picket gives a finding one Key
# whichever way it arrives, so a finding seen through two rules is one
# Slack message.
#
# Every rule always exists and is enabled or disabled by the variables
# below (a disabled rule costs nothing), so that the topic policy names the
# same rules whatever is chosen.

variable "securityhub_format" {
  description = "Which Security Hub findings events to send to Picket: v1 (ASFF \"Security Hub Findings - Imported\"), v2 (OCSF \"Findings Imported V2\") or both. With v2 the v1 rule is created disabled."
  type        = string
  default     = "v1"

  validation {
    condition     = contains(["v1", "v2", "both"], var.securityhub_format)
    error_message = "The securityhub_format must be v1, v2 or both."
  }
}

variable "native_finding_sources" {
  description = "Services whose own finding events are also sent to Picket, for accounts that do not import them into Security Hub: any of inspector, macie, access-analyzer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.native_finding_sources : contains(["inspector", "macie", "access-analyzer"], s)])
    error_message = "The native_finding_sources may hold only inspector, macie and access-analyzer."
  }
}

locals {
  # OCSF severity_id: 1 Informational, 2 Low, 3 Medium, 4 High,
  # 5 Critical, 6 Fatal (0 Unknown and 99 Other are left out).
  imported_v2_pattern = jsonencode({
    source        = ["aws.securityhub"]
    "detail-type" = ["Findings Imported V2"]
    detail = {
      findings = {
        severity_id = [{ numeric = [">=", local.severity_rank[upper(var.min_severity)] + 1, "<=", 6] }]
        # New or In Progress, as the v1 rule takes NEW and NOTIFIED.
        status_id = [1, 2]
      }
    }
  })

  # Inspector's severity labels are Security Hub's (plus UNTRIAGED, left
  # out); closed and suppressed findings need no alert.
  inspector_pattern = jsonencode({
    source        = ["aws.inspector2"]
    "detail-type" = ["Inspector2 Finding"]
    detail = {
      severity = local.imported_labels
      status   = ["ACTIVE"]
    }
  })

  # Macie's severities are Low, Medium and High.
  # At CRITICAL none qualifies: the pattern then names "Critical", which
  # Macie never sends (EventBridge takes no empty list).
  macie_severities = { LOW = "Low", MEDIUM = "Medium", HIGH = "High" }
  macie_labels     = [for l in local.imported_labels : local.macie_severities[l] if contains(keys(local.macie_severities), l)]
  macie_pattern = jsonencode({
    source        = ["aws.macie"]
    "detail-type" = ["Macie Finding"]
    detail = {
      severity = { description = length(local.macie_labels) > 0 ? local.macie_labels : ["Critical"] }
      archived = [false]
    }
  })

  # Every finding detail-type of IAM Access Analyzer ("Access Preview State
  # Change" carries none); its events have no severity. Archived and
  # resolved findings need no alert. (A deleted finding keeps its status;
  # Picket shows it closed.)
  access_analyzer_pattern = jsonencode({
    source        = ["aws.access-analyzer"]
    "detail-type" = ["Access Analyzer Finding", "Internal Access Finding", "Unused Access Finding for IAM entities"]
    detail        = { status = ["ACTIVE"] }
  })

  # The rules of this file, for the topic policy (local.rule_arns).
  finding_source_rule_arns = [
    aws_cloudwatch_event_rule.securityhub_imported_v2.arn,
    aws_cloudwatch_event_rule.inspector.arn,
    aws_cloudwatch_event_rule.macie.arn,
    aws_cloudwatch_event_rule.access_analyzer.arn,
  ]
}

resource "aws_cloudwatch_event_rule" "securityhub_imported_v2" {
  name          = "${var.name}-securityhub-imported-v2"
  description   = "New or in-progress Security Hub v2 (OCSF) findings at or above ${upper(var.min_severity)} to Picket"
  event_pattern = local.imported_v2_pattern
  state         = contains(["v2", "both"], var.securityhub_format) ? "ENABLED" : "DISABLED"
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "securityhub_imported_v2" {
  rule = aws_cloudwatch_event_rule.securityhub_imported_v2.name
  arn  = aws_sns_topic.findings.arn
}

resource "aws_cloudwatch_event_rule" "inspector" {
  name          = "${var.name}-inspector-findings"
  description   = "Active Inspector findings at or above ${upper(var.min_severity)} to Picket"
  event_pattern = local.inspector_pattern
  state         = contains(var.native_finding_sources, "inspector") ? "ENABLED" : "DISABLED"
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "inspector" {
  rule = aws_cloudwatch_event_rule.inspector.name
  arn  = aws_sns_topic.findings.arn
}

resource "aws_cloudwatch_event_rule" "macie" {
  name          = "${var.name}-macie-findings"
  description   = "Macie findings at or above ${upper(var.min_severity)} to Picket"
  event_pattern = local.macie_pattern
  state         = contains(var.native_finding_sources, "macie") ? "ENABLED" : "DISABLED"
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "macie" {
  rule = aws_cloudwatch_event_rule.macie.name
  arn  = aws_sns_topic.findings.arn
}

resource "aws_cloudwatch_event_rule" "access_analyzer" {
  name          = "${var.name}-access-analyzer-findings"
  description   = "Active IAM Access Analyzer findings to Picket"
  event_pattern = local.access_analyzer_pattern
  state         = contains(var.native_finding_sources, "access-analyzer") ? "ENABLED" : "DISABLED"
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "access_analyzer" {
  rule = aws_cloudwatch_event_rule.access_analyzer.name
  arn  = aws_sns_topic.findings.arn
}

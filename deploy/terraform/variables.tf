variable "name" {
  description = "Prefix of every resource name (queue, topic, rules, role)."
  type        = string
  default     = "picket"
}

variable "min_guardduty_severity" {
  description = "Lowest GuardDuty severity (1.0 to 10.0) sent to Picket: 1 Low, 4 Medium, 7 High, 9 Critical."
  type        = number
  default     = 4

  validation {
    condition     = var.min_guardduty_severity >= 0 && var.min_guardduty_severity <= 10
    error_message = "The min_guardduty_severity must be between 0 and 10."
  }
}

variable "min_severity" {
  description = "Lowest Security Hub severity label sent to Picket: INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL."
  type        = string
  default     = "MEDIUM"

  validation {
    condition     = contains(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"], upper(var.min_severity))
    error_message = "The min_severity must be one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL."
  }
}

variable "enable_custom_action" {
  description = "Create the Security Hub custom action \"Send to Slack\" and the rule that forwards it. Security Hub must be enabled in the account first."
  type        = bool
  default     = true
}

variable "custom_action_id" {
  description = "Identifier of the Security Hub custom action (letters and digits, at most 20)."
  type        = string
  default     = "PicketSendToSlack"
}

variable "max_receive_count" {
  description = "Receives before a message that Picket cannot handle moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the findings queue; Picket extends it while it works on a message."
  type        = number
  default     = 60
}

variable "message_retention_seconds" {
  description = "How long the findings queue keeps a message (default 4 days). Keep ingest.processed_ttl at least this long."
  type        = number
  default     = 345600
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (default 14 days, the maximum)."
  type        = number
  default     = 1209600
}

variable "trusted_services" {
  description = "AWS services that may assume the bot role: ecs-tasks.amazonaws.com for ECS/Fargate, ec2.amazonaws.com for an instance. Empty for none."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]
}

variable "trusted_role_arns" {
  description = "IAM principals (role or user ARNs) that may assume the bot role, e.g. a role a self-hosted runner already has."
  type        = list(string)
  default     = []
}

variable "irsa" {
  description = "EKS IAM Roles for Service Accounts: the cluster's OIDC provider ARN and the Kubernetes namespace and service account of Picket. Null for none."
  type = object({
    oidc_provider_arn = string
    namespace         = string
    service_account   = string
  })
  default = null
}

variable "escalation_topic_arn" {
  description = "SNS topic Picket announces escalations on (responses.escalation_topic_arn). Empty: a topic named \"<name>-escalations\" in this account, if you create one."
  type        = string
  default     = ""
}

variable "responder_role_name" {
  description = "Name of the responder role in member accounts (the member module's role_name): the only role the bot may assume."
  type        = string
  default     = "PicketResponder"
}

variable "protected_tag" {
  description = "Tag key that protects an IAM user (responses.protected_tag): the bot role may not disable or re-tag a user with it set to true, nor add or remove that tag."
  type        = string
  default     = "picket:protected"
}

variable "queue_redrive_principal_arns" {
  description = "IAM principals (ARNs, * allowed) that may send to the findings queue besides the topic: whoever moves messages back from the dead-letter queue (a DLQ redrive sends as them). Empty: only the topic can send."
  type        = list(string)
  default     = []
}

variable "create_instance_profile" {
  description = "Also create an EC2 instance profile for the bot role (with ec2.amazonaws.com in trusted_services)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

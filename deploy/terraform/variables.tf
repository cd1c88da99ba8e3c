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

variable "run_picket" {
  description = "Also run Picket itself on ECS Fargate: a cluster, the service and its task definition (as the bot role), a log group, the Slack tokens' secret (created empty) and an EFS file system for /data. false: only the AWS wiring, for Picket running elsewhere."
  type        = bool
  default     = true
}

variable "image" {
  description = "Picket's container image (run_picket). Pin a release, e.g. ghcr.io/picketsec/picket:1.2.3, or a copy in your own registry."
  type        = string
  default     = "ghcr.io/picketsec/picket:latest"
}

variable "picket_config" {
  description = "Picket's configuration file as YAML (run_picket): roles, routes, digests, responses; see deploy/picket.example.yaml. Passed to the task as PICKET_CONFIG_YAML. The queue, region and data directory are set by the module; the Slack tokens come from the secret."
  type        = string
  default     = ""
}

variable "vpc_id" {
  description = "VPC the Picket task and its file system live in (run_picket). Empty: the account's default VPC."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Subnets of the Picket task and of the file system's mount targets, at most one per availability zone (run_picket). Empty: every subnet of the VPC. Without assign_public_ip they need a NAT gateway or VPC endpoints to reach SQS, the AWS APIs and Slack."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the Picket task a public IP address so it reaches the AWS APIs and Slack from a public subnet (the default VPC's). Its security group admits nothing inbound. false for private subnets with a NAT gateway."
  type        = bool
  default     = true
}

variable "task_cpu" {
  description = "CPU units of the Picket task (256 = a quarter vCPU)."
  type        = number
  default     = 256
}

variable "task_memory" {
  description = "Memory of the Picket task in MiB (valid with task_cpu on Fargate: 512 to 2048 for 256 units)."
  type        = number
  default     = 512
}

variable "cpu_architecture" {
  description = "CPU architecture of the Picket task: X86_64 or ARM64 (the released image has both)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The cpu_architecture must be X86_64 or ARM64."
  }
}

variable "log_retention_days" {
  description = "Days the Picket task's logs are kept in CloudWatch Logs."
  type        = number
  default     = 30
}

variable "replicas" {
  description = "How many Picket tasks the ECS service runs when they share the DynamoDB table (store_table = true); with the bbolt file it is always 1."
  type        = number
  default     = 3
  validation {
    condition     = var.replicas >= 1 && var.replicas <= 10
    error_message = "replicas must be between 1 and 10 (Slack allows 10 Socket Mode connections per app)."
  }
}

variable "store_table" {
  description = "Create the DynamoDB table Picket's replicas share (store.backend dynamodb, table \"<name>-state\"): on-demand, point-in-time recovery, KMS, TTL. The ECS task then uses it instead of EFS's bbolt file. false (default): one replica with the bbolt file."
  type        = bool
  default     = false
}

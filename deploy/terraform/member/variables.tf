variable "bot_role_arn" {
  description = "ARN of the role Picket runs as in the security account (the main module's bot_role_arn output)."
  type        = string
}

variable "external_id" {
  description = "External id Picket presents when it assumes the role (responses.accounts[].external_id in Picket's configuration)."
  type        = string

  validation {
    condition     = length(var.external_id) >= 2 && length(var.external_id) <= 1224
    error_message = "The external_id must be 2 to 1224 characters long."
  }
}

variable "role_name" {
  description = "Name of the responder role (responses.accounts[].role_arn ends with it)."
  type        = string
  default     = "PicketResponder"
}

variable "policy_sids" {
  description = "Statements of deploy/iam-policy.json granted in the member account, by Sid prefix: \"Respond\" (every Respond* statement) for the buttons, \"Enrich\" for the user and instance context of its alerts, \"Posture\" for picket check --account and /picket posture there. Picket does all three through this role. STS actions and statements on the security account's queue and topic are always left out."
  type        = list(string)
  default     = ["Respond", "Enrich", "Posture"]
}

variable "protected_tag" {
  description = "Tag key that protects an IAM user (Picket's responses.protected_tag): the role may not disable or re-tag a user with it set to true, nor add or remove that tag."
  type        = string
  default     = "picket:protected"
}

variable "tags" {
  description = "Tags added to the role."
  type        = map(string)
  default     = {}
}

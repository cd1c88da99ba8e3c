output "role_arn" {
  description = "ARN of the responder role: responses.accounts[].role_arn in Picket's configuration."
  value       = aws_iam_role.responder.arn
}

output "account_entry" {
  description = "The responses.accounts entry for Picket's configuration."
  value = {
    id          = data.aws_caller_identity.current.account_id
    role_arn    = aws_iam_role.responder.arn
    external_id = var.external_id
  }
}

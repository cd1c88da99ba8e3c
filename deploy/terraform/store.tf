# --- DynamoDB store (store_table = true) ------------------------------------
#
# The table several Picket replicas share instead of a bbolt file (Picket's
# store.backend dynamodb; see docs/deploy.md, "When to switch to
# DynamoDB"). On-demand capacity, point-in-time recovery, encryption with
# a key of this module, TTL on the "ttl" attribute (processed message ids;
# Picket also ignores expired items itself, as TTL deletes them only
# eventually). The bot role may read and write this table only (the Store
# statement of deploy/iam-policy.json), never Scan it.

locals {
  store_table_name = "${var.name}-state"
  # The table's ARN whether or not it is created here, so that the bot
  # role's policy is the same either way.
  store_table_arn = "arn:${local.partition}:dynamodb:${data.aws_region.current.name}:${local.account_id}:table/${local.store_table_name}"
}

resource "aws_kms_key" "store" {
  count               = var.store_table ? 1 : 0
  description         = "${var.name}: encrypts the DynamoDB store"
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
        # The bot role uses the key only through DynamoDB, for this
        # account's table.
        Sid       = "BotThroughDynamoDB"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.bot.arn }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:ViaService"    = "dynamodb.${data.aws_region.current.name}.amazonaws.com"
            "kms:CallerAccount" = local.account_id
          }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "store" {
  count         = var.store_table ? 1 : 0
  name          = "alias/${var.name}-store"
  target_key_id = aws_kms_key.store[0].key_id
}

resource "aws_dynamodb_table" "store" {
  count                       = var.store_table ? 1 : 0
  name                        = local.store_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = true

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.store[0].arn
  }

  tags = var.tags
}

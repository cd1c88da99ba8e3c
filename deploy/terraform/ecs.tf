# Picket itself, on ECS Fargate (var.run_picket, on by default): one task
# of the released image, running as the bot role, with
#
#   - the Slack tokens from one Secrets Manager secret, created empty and
#     filled with one command (docs/deploy.md), so they never pass through
#     Terraform or its state;
#   - /data on an encrypted EFS file system, through an access point that
#     makes every file the image's non-root user's (uid and gid 65532);
#   - the configuration from var.picket_config (PICKET_CONFIG_YAML);
#   - its logs in a CloudWatch log group.
#
# The task takes no inbound connection: Picket connects out to SQS, the AWS
# APIs and Slack (Socket Mode) over HTTPS, and to its file system over NFS.

locals {
  # The default VPC and its subnets unless given.
  vpc_id     = var.vpc_id != "" ? var.vpc_id : one(data.aws_vpc.default[*].id)
  subnet_ids = length(var.subnet_ids) > 0 ? var.subnet_ids : flatten(data.aws_subnets.default[*].ids)

  # The image runs as this user (distroless "nonroot"); the access point
  # owns /data to it.
  picket_uid = 65532

  slack_secret_arn = one(aws_secretsmanager_secret.slack[*].arn)

  container_environment = concat(
    [
      { name = "PICKET_QUEUE_URL", value = aws_sqs_queue.findings.url },
      { name = "AWS_REGION", value = data.aws_region.current.name },
      { name = "PICKET_DATA_DIR", value = "/data" },
      # Only the health check, inside the task, reaches it.
      { name = "PICKET_HTTP_ADDR", value = "127.0.0.1:8080" },
    ],
    var.picket_config != "" ? [{ name = "PICKET_CONFIG_YAML", value = var.picket_config }] : [],
    var.store_table ? [
      { name = "PICKET_STORE_BACKEND", value = "dynamodb" },
      { name = "PICKET_STORE_TABLE", value = local.store_table_name },
    ] : [],
  )
}

data "aws_vpc" "default" {
  count   = var.run_picket && var.vpc_id == "" ? 1 : 0
  default = true
}

data "aws_subnets" "default" {
  count = var.run_picket && length(var.subnet_ids) == 0 ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [local.vpc_id]
  }
}

# --- Slack tokens ----------------------------------------------------------

# Created without a value: the tokens are put in once with
#   aws secretsmanager put-secret-value --secret-id picket/slack \
#     --secret-string '{"SLACK_BOT_TOKEN":"xoxb-...","SLACK_APP_TOKEN":"xapp-..."}'
# Until then the task cannot start (ECS says the secret has no value).
resource "aws_secretsmanager_secret" "slack" {
  count                   = var.run_picket ? 1 : 0
  name                    = "${var.name}/slack"
  description             = "Picket's Slack tokens as JSON: {\"SLACK_BOT_TOKEN\": \"xoxb-...\", \"SLACK_APP_TOKEN\": \"xapp-...\"}"
  recovery_window_in_days = 7
  tags                    = var.tags
}

# --- Logs --------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "picket" {
  count             = var.run_picket ? 1 : 0
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# --- /data on EFS ------------------------------------------------------------

resource "aws_efs_file_system" "data" {
  count          = var.run_picket ? 1 : 0
  creation_token = "${var.name}-data"
  encrypted      = true
  tags           = merge(var.tags, { Name = "${var.name}-data" })
}

# The store holds the audit trail: keep daily backups.
resource "aws_efs_backup_policy" "data" {
  count          = var.run_picket ? 1 : 0
  file_system_id = aws_efs_file_system.data[0].id

  backup_policy {
    status = "ENABLED"
  }
}

# Every file the task writes is the image's user's, whatever the task says,
# in a directory that user owns and only it may read.
resource "aws_efs_access_point" "data" {
  count          = var.run_picket ? 1 : 0
  file_system_id = aws_efs_file_system.data[0].id

  posix_user {
    uid = local.picket_uid
    gid = local.picket_uid
  }

  root_directory {
    path = "/picket"

    creation_info {
      owner_uid   = local.picket_uid
      owner_gid   = local.picket_uid
      permissions = "0700"
    }
  }

  tags = var.tags
}

# Only the bot role may mount, only through the access point, only over TLS.
resource "aws_efs_file_system_policy" "data" {
  count          = var.run_picket ? 1 : 0
  file_system_id = aws_efs_file_system.data[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "PicketMountsThroughItsAccessPoint"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.bot.arn }
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = aws_efs_file_system.data[0].arn
        Condition = {
          StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.data[0].arn }
          Bool         = { "aws:SecureTransport" = "true" }
        }
      },
      {
        Sid       = "DenyUnencryptedTransport"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "*"
        Resource  = aws_efs_file_system.data[0].arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

# One mount target per subnet (EFS allows one per availability zone).
resource "aws_efs_mount_target" "data" {
  for_each        = var.run_picket ? toset(local.subnet_ids) : toset([])
  file_system_id  = aws_efs_file_system.data[0].id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs[0].id]
}

# --- Network -----------------------------------------------------------------

resource "aws_security_group" "task" {
  count       = var.run_picket ? 1 : 0
  name        = "${var.name}-task"
  description = "Picket task: nothing inbound; HTTPS out (AWS APIs, Slack) and NFS to its file system"
  vpc_id      = local.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  count             = var.run_picket ? 1 : 0
  security_group_id = aws_security_group.task[0].id
  description       = "AWS APIs and Slack"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "task_nfs" {
  count                        = var.run_picket ? 1 : 0
  security_group_id            = aws_security_group.task[0].id
  description                  = "The /data file system"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs[0].id
}

resource "aws_security_group" "efs" {
  count       = var.run_picket ? 1 : 0
  name        = "${var.name}-efs"
  description = "Picket's /data file system: NFS from the Picket task only"
  vpc_id      = local.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "efs_nfs" {
  count                        = var.run_picket ? 1 : 0
  security_group_id            = aws_security_group.efs[0].id
  description                  = "NFS from the Picket task"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.task[0].id
}

# --- The task's execution role (pulls the image, reads the secret, logs) --

resource "aws_iam_role" "execution" {
  count       = var.run_picket ? 1 : 0
  name        = "${var.name}-execution"
  description = "Starts the Picket task: pulls the image, reads the Slack tokens' secret, writes the logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksOfThisAccount"
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:${local.account_id}:*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "execution" {
  count = var.run_picket ? 1 : 0
  name  = "${var.name}-execution"
  role  = aws_iam_role.execution[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadTheSlackTokens"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = local.slack_secret_arn
      },
      {
        Sid      = "WriteTheLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.picket[0].arn}:*"
      },
      {
        # A private copy of the image in ECR; the released image on
        # ghcr.io needs nothing.
        Sid      = "PullFromThisAccountsECR"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = "arn:${local.partition}:ecr:*:${local.account_id}:repository/*"
      },
      {
        Sid      = "LogInToECR"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
    ]
  })
}

# --- Cluster, task definition, service --------------------------------------

resource "aws_ecs_cluster" "picket" {
  count = var.run_picket ? 1 : 0
  name  = var.name
  tags  = var.tags
}

resource "aws_ecs_task_definition" "picket" {
  count                    = var.run_picket ? 1 : 0
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  task_role_arn            = aws_iam_role.bot.arn
  execution_role_arn       = aws_iam_role.execution[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "data"

    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data[0].id
      transit_encryption = "ENABLED"

      authorization_config {
        access_point_id = aws_efs_access_point.data[0].id
        iam             = "ENABLED"
      }
    }
  }

  container_definitions = jsonencode([{
    name                   = "picket"
    image                  = var.image
    essential              = true
    command                = ["run"]
    user                   = "${local.picket_uid}:${local.picket_uid}"
    readonlyRootFilesystem = true
    # SIGTERM lets in-flight messages and Slack calls finish.
    stopTimeout = 60
    environment = local.container_environment
    secrets = [
      { name = "SLACK_BOT_TOKEN", valueFrom = "${local.slack_secret_arn}:SLACK_BOT_TOKEN::" },
      { name = "SLACK_APP_TOKEN", valueFrom = "${local.slack_secret_arn}:SLACK_APP_TOKEN::" },
    ]
    mountPoints = [{ sourceVolume = "data", containerPath = "/data", readOnly = false }]
    healthCheck = {
      command     = ["CMD", "/picket", "healthcheck"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.picket[0].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "picket"
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_service" "picket" {
  count            = var.run_picket ? 1 : 0
  name             = var.name
  cluster          = aws_ecs_cluster.picket[0].id
  task_definition  = aws_ecs_task_definition.picket[0].arn
  desired_count    = var.store_table ? var.replicas : 1
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  # On the bbolt file, one writer: a deployment stops the old task before
  # it starts the new one, never two at once. On the DynamoDB table, the
  # replicas share the work and a deployment replaces them one at a time
  # with none missing.
  deployment_minimum_healthy_percent = var.store_table ? 100 : 0
  deployment_maximum_percent         = var.store_table ? 200 : 100
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = local.subnet_ids
    security_groups  = [aws_security_group.task[0].id]
    assign_public_ip = var.assign_public_ip
  }

  # The task mounts /data: its mount targets must exist first.
  depends_on = [aws_efs_mount_target.data]

  lifecycle {
    precondition {
      condition     = contains(var.trusted_services, "ecs-tasks.amazonaws.com")
      error_message = "The Picket task runs as the bot role: keep \"ecs-tasks.amazonaws.com\" in trusted_services, or set run_picket = false."
    }
  }

  tags = var.tags
}

package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/picketsec/picket/config"
)

// The image's non-root user (distroless "nonroot"), which owns /data.
const picketUID = 65532

// testConfig is the picket_config the ECS checks apply.
const testConfig = "slack:\n  default_channel: \"#sec\"\n"

var withConfig = map[string]cty.Value{"picket_config": cty.StringVal(testConfig)}

// TestECS checks that Picket itself runs as the module deploys it: one
// Fargate task at a time, as the bot role, its tokens from the secret, its
// store on EFS owned by the image's user, logs in the log group.
func TestECS(t *testing.T) {
	m := loadModule(t, mainModule)
	for _, p := range checkECS(m, withConfig) {
		t.Error(p)
	}
}

// TestECSOff: with run_picket = false the module creates nothing of the
// ECS part, and still evaluates.
func TestECSOff(t *testing.T) {
	m := loadModule(t, mainModule)
	ctx, err := m.evalContext(map[string]cty.Value{"run_picket": cty.False})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sortedKeys(m.resources) {
		b := m.resources[k]
		if !strings.HasPrefix(filepath.Base(b.Range().Filename), "ecs") {
			continue
		}
		n, ok := count(ctx, b)
		if !ok {
			t.Errorf("%s: got no count or for_each, want one that run_picket turns off", k)
		} else if n != 0 {
			t.Errorf("%s: got %d instances with run_picket = false, want 0", k, n)
		}
	}
	for _, out := range []string{"slack_secret_arn", "ecs_service_name", "data_file_system_id"} {
		v, err := m.attr(ctx, m.outputs[out], "value")
		if err != nil {
			t.Errorf("output %s: %v", out, err)
		} else if !v.IsNull() {
			t.Errorf("output %s: got %#v, want null with run_picket = false", out, v)
		}
	}
}

// count is how many instances count or for_each makes of b.
func count(ctx *hcl.EvalContext, b *hclsyntax.Block) (int, bool) {
	for _, name := range []string{"count", "for_each"} {
		a, ok := b.Body.Attributes[name]
		if !ok {
			continue
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			return -1, true
		}
		if name == "count" {
			var n int
			if err := gocty(v, &n); err != nil {
				return -1, true
			}
			return n, true
		}
		return v.LengthInt(), true
	}
	return 0, false
}

// TestECSBroken proves checkECS catches broken copies of ecs.tf.
func TestECSBroken(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(mainModule, "ecs.tf"))
	if err != nil {
		t.Fatal(err)
	}
	const secretVersion = `
resource "aws_secretsmanager_secret_version" "slack" {
  secret_id     = aws_secretsmanager_secret.slack[0].id
  secret_string = jsonencode({ SLACK_BOT_TOKEN = "xoxb-1", SLACK_APP_TOKEN = "xapp-1" })
}
`
	const openTask = `
resource "aws_vpc_security_group_ingress_rule" "task_http" {
  count             = var.run_picket ? 1 : 0
  security_group_id = aws_security_group.task[0].id
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
  cidr_ipv4         = "0.0.0.0/0"
}
`
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{name: "task runs as the execution role", old: "task_role_arn            = aws_iam_role.bot.arn", new: "task_role_arn            = aws_iam_role.execution[0].arn", want: "task_role_arn"},
		{name: "no execution role", old: "execution_role_arn       = aws_iam_role.execution[0].arn", new: "", want: "execution_role_arn"},
		{name: "EC2 launch type", old: `requires_compatibilities = ["FARGATE"]`, new: `requires_compatibilities = ["EC2"]`, want: "FARGATE"},
		{name: "token in the environment", old: `{ name = "PICKET_DATA_DIR", value = "/data" },`, new: `{ name = "PICKET_DATA_DIR", value = "/data" },
      { name = "SLACK_BOT_TOKEN", value = "xoxb-1" },`, want: "SLACK_BOT_TOKEN"},
		{name: "app token not from the secret", old: `{ name = "SLACK_APP_TOKEN", valueFrom = "${local.slack_secret_arn}:SLACK_APP_TOKEN::" },`, new: "", want: "SLACK_APP_TOKEN"},
		{name: "token from another secret", old: `valueFrom = "${local.slack_secret_arn}:SLACK_BOT_TOKEN::"`, new: `valueFrom = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:other"`, want: "SLACK_BOT_TOKEN"},
		{name: "tokens in Terraform state", old: "# --- Logs", new: secretVersion + "\n# --- Logs", want: "aws_secretsmanager_secret_version"},
		{name: "an unknown variable", old: `{ name = "PICKET_DATA_DIR", value = "/data" },`, new: `{ name = "PICKET_DATADIR", value = "/data" },`, want: "PICKET_DATADIR"},
		{name: "queue of the environment is the DLQ", old: `{ name = "PICKET_QUEUE_URL", value = aws_sqs_queue.findings.url },`, new: `{ name = "PICKET_QUEUE_URL", value = aws_sqs_queue.dlq.url },`, want: "PICKET_QUEUE_URL"},
		{name: "config not passed", old: `var.picket_config != "" ? [{ name = "PICKET_CONFIG_YAML", value = var.picket_config }] : [],`, new: "[],", want: "PICKET_CONFIG_YAML"},
		{name: "store not on /data", old: `containerPath = "/data"`, new: `containerPath = "/var/lib/picket"`, want: "/data"},
		{name: "root filesystem writable", old: "readonlyRootFilesystem = true", new: "readonlyRootFilesystem = false", want: "readonlyRootFilesystem"},
		{name: "task as root", old: `user                   = "${local.picket_uid}:${local.picket_uid}"`, new: `user                   = "0:0"`, want: "user"},
		{name: "access point as root", old: "    uid = local.picket_uid", new: "    uid = 0", want: "posix_user"},
		{name: "access point directory of root", old: "      owner_uid   = local.picket_uid", new: "      owner_uid   = 0", want: "creation_info"},
		{name: "access point directory world-readable", old: `permissions = "0700"`, new: `permissions = "0777"`, want: "permissions"},
		{name: "volume without TLS", old: `transit_encryption = "ENABLED"`, new: `transit_encryption = "DISABLED"`, want: "transit_encryption"},
		{name: "volume not through the access point", old: "access_point_id = aws_efs_access_point.data[0].id", new: "", want: "access_point_id"},
		{name: "file system not encrypted", old: "encrypted      = true", new: "encrypted      = false", want: "encrypted"},
		{name: "file system policy lets anyone mount", old: "Principal = { AWS = aws_iam_role.bot.arn }", new: `Principal = { AWS = "*" }`, want: "ClientMount"},
		{name: "mount target in the task's group", old: "security_groups = [aws_security_group.efs[0].id]", new: "security_groups = [aws_security_group.task[0].id]", want: "aws_efs_mount_target"},
		{name: "NFS open to a network", old: "  description                  = \"NFS from the Picket task\"\n  ip_protocol                  = \"tcp\"\n  from_port                    = 2049\n  to_port                      = 2049\n  referenced_security_group_id = aws_security_group.task[0].id",
			new: "  description                  = \"NFS from the Picket task\"\n  ip_protocol                  = \"tcp\"\n  from_port                    = 2049\n  to_port                      = 2049\n  cidr_ipv4                    = \"10.0.0.0/8\"", want: "aws_vpc_security_group_ingress_rule.efs_nfs"},
		{name: "task open inbound", old: "# --- The task's execution role", new: openTask + "\n# --- The task's execution role", want: "inbound"},
		{name: "two tasks at once in a deployment", old: "deployment_maximum_percent         = var.store_table ? 200 : 100", new: "deployment_maximum_percent         = 200", want: "deployment_maximum_percent"},
		{name: "two tasks", old: "desired_count    = var.store_table ? var.replicas : 1", new: "desired_count    = 2", want: "desired_count"},
		{name: "replicas on the table stop all at once", old: "deployment_minimum_healthy_percent = var.store_table ? 100 : 0", new: "deployment_minimum_healthy_percent = 0", want: "deployment_minimum_healthy_percent"},
		{name: "service runs another task definition", old: "task_definition  = aws_ecs_task_definition.picket[0].arn", new: `task_definition  = "picket:1"`, want: "task_definition"},
		{name: "service outside the task group", old: "security_groups  = [aws_security_group.task[0].id]", new: "security_groups  = [aws_security_group.efs[0].id]", want: "security_groups"},
		{name: "service starts before the mount targets", old: "depends_on = [aws_efs_mount_target.data]", new: "", want: "depends_on"},
		{name: "logs elsewhere", old: "awslogs-group         = aws_cloudwatch_log_group.picket[0].name", new: `awslogs-group         = "/ecs/other"`, want: "awslogs-group"},
		{name: "execution role reads every secret", old: "Resource = local.slack_secret_arn", new: `Resource = "*"`, want: "secretsmanager:GetSecretValue"},
		{name: "execution role trusted by any account", old: `        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:${local.account_id}:*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "execution" {`, new: `        ArnLike = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:*:*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "execution" {`, want: "aws_iam_role.execution"},
		{name: "not switched by run_picket", old: "resource \"aws_ecs_cluster\" \"picket\" {\n  count = var.run_picket ? 1 : 0", new: "resource \"aws_ecs_cluster\" \"picket\" {\n  count = 1", want: "aws_ecs_cluster.picket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(src, []byte(tt.old)) {
				t.Fatalf("ecs.tf no longer contains %q: update this test", tt.old)
			}
			broken := strings.Replace(string(src), tt.old, tt.new, 1)
			m, err := parseModule(mainModule, map[string]string{"ecs.tf": broken})
			if err != nil {
				t.Fatal(err)
			}
			problems := append(m.undeclaredReferences(), checkECS(m, withConfig)...)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("got problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}

// containerDefinition is the part of an ECS container definition checked.
type containerDefinition struct {
	Name                   string
	Image                  string
	Essential              bool
	Command                []string
	User                   string
	ReadonlyRootFilesystem bool
	Environment            []struct{ Name, Value string }
	Secrets                []struct{ Name, ValueFrom string }
	MountPoints            []struct {
		SourceVolume  string
		ContainerPath string
		ReadOnly      bool
	}
	HealthCheck struct {
		Command []string
	}
	LogConfiguration struct {
		LogDriver string
		Options   map[string]string
	}
}

// checkECS returns every way the module's ECS part (with run_picket on) is
// wrong.
func checkECS(m *module, overrides map[string]cty.Value) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ctx, err := m.evalContext(overrides)
	if err != nil {
		return []string{fmt.Sprintf("evaluate module: %v", err)}
	}
	const (
		service   = "aws_ecs_service.picket"
		taskDef   = "aws_ecs_task_definition.picket"
		cluster   = "aws_ecs_cluster.picket"
		logGroup  = "aws_cloudwatch_log_group.picket"
		secret    = "aws_secretsmanager_secret.slack"
		fs        = "aws_efs_file_system.data"
		ap        = "aws_efs_access_point.data"
		fsPolicy  = "aws_efs_file_system_policy.data"
		mount     = "aws_efs_mount_target.data"
		taskSG    = "aws_security_group.task"
		efsSG     = "aws_security_group.efs"
		execRole  = "aws_iam_role.execution"
		execPol   = "aws_iam_role_policy.execution"
		botRole   = "aws_iam_role.bot"
		account   = "data.aws_caller_identity.current.account_id"
		partition = "data.aws_partition.current.partition"
	)
	for _, k := range []string{service, taskDef, cluster, logGroup, secret, fs, ap, fsPolicy, mount, taskSG, efsSG, execRole, execPol} {
		b := m.resources[k]
		if b == nil {
			fail("resource %s is not declared", k)
			continue
		}
		// Each is switched by run_picket (on here).
		if n, ok := count(ctx, b); !ok || n < 1 {
			fail("%s: got %d instances (count or for_each given: %v), want at least one with run_picket on", k, n, ok)
		}
		if n, ok := count(offContext(m), b); !ok || n != 0 {
			fail("%s: got %d instances with run_picket = false, want 0", k, n)
		}
	}
	if len(problems) > 0 {
		return problems
	}
	str := func(key string, path ...string) string {
		v, err := nestedAttr(ctx, m.resources[key], path...)
		if err != nil {
			fail("%s: %v", key, err)
			return ""
		}
		if v.IsNull() || !v.Type().Equals(cty.String) {
			if v.Type().Equals(cty.Number) || v.Type().Equals(cty.Bool) {
				return v.GoString()
			}
			fail("%s.%s: got %s, want a string", key, strings.Join(path, "."), v.Type().FriendlyName())
			return ""
		}
		return v.AsString()
	}
	want := func(key, got, wantVal string, path ...string) {
		if got != wantVal {
			fail("%s.%s: got %q, want %q", key, strings.Join(path, "."), got, wantVal)
		}
	}

	// The tokens never pass through Terraform: no secret version.
	for k := range m.resources {
		if strings.HasPrefix(k, "aws_secretsmanager_secret_version.") {
			fail("%s puts a secret value in Terraform's state: the secret is created empty and filled by hand", k)
		}
	}

	// The task definition: Fargate, the bot role, the execution role.
	want(taskDef, str(taskDef, "task_role_arn"), botRole+".arn", "task_role_arn")
	want(taskDef, str(taskDef, "execution_role_arn"), execRole+".arn", "execution_role_arn")
	want(taskDef, str(taskDef, "network_mode"), "awsvpc", "network_mode")
	if v, err := nestedAttr(ctx, m.resources[taskDef], "requires_compatibilities"); err != nil || !v.Type().IsTupleType() && !v.Type().IsListType() || v.LengthInt() != 1 || v.AsValueSlice()[0].AsString() != "FARGATE" {
		fail("%s.requires_compatibilities: got %#v (%v), want [\"FARGATE\"]", taskDef, v, err)
	}
	want(taskDef, str(taskDef, "volume", "name"), "data", "volume.name")
	want(taskDef, str(taskDef, "volume", "efs_volume_configuration", "file_system_id"), fs+".id", "volume.efs_volume_configuration.file_system_id")
	want(taskDef, str(taskDef, "volume", "efs_volume_configuration", "transit_encryption"), "ENABLED", "volume.efs_volume_configuration.transit_encryption")
	want(taskDef, str(taskDef, "volume", "efs_volume_configuration", "authorization_config", "access_point_id"), ap+".id", "volume.efs_volume_configuration.authorization_config.access_point_id")
	want(taskDef, str(taskDef, "volume", "efs_volume_configuration", "authorization_config", "iam"), "ENABLED", "volume.efs_volume_configuration.authorization_config.iam")

	var containers []containerDefinition
	if s := str(taskDef, "container_definitions"); s != "" {
		if err := json.Unmarshal([]byte(s), &containers); err != nil {
			fail("%s.container_definitions: %v", taskDef, err)
		}
	}
	if len(containers) != 1 {
		fail("%s: got %d containers, want 1", taskDef, len(containers))
	} else {
		problems = append(problems, checkContainer(containers[0], secret+".arn", logGroup+".name", "aws_sqs_queue.findings.url")...)
	}

	// The service: one task, never two at once, in the task's group.
	want(service, str(service, "task_definition"), taskDef+".arn", "task_definition")
	want(service, str(service, "cluster"), cluster+".id", "cluster")
	want(service, str(service, "launch_type"), "FARGATE", "launch_type")
	want(service, str(service, "desired_count"), "cty.NumberIntVal(1)", "desired_count")
	want(service, str(service, "deployment_maximum_percent"), "cty.NumberIntVal(100)", "deployment_maximum_percent")
	want(service, str(service, "deployment_minimum_healthy_percent"), "cty.NumberIntVal(0)", "deployment_minimum_healthy_percent")
	// On the DynamoDB table: the replicas, replaced one at a time.
	if tctx, err := m.evalContext(map[string]cty.Value{"store_table": cty.True}); err != nil {
		fail("evaluate with store_table: %v", err)
	} else {
		for attr, v := range map[string]string{"desired_count": "cty.NumberIntVal(3)", "deployment_minimum_healthy_percent": "cty.NumberIntVal(100)", "deployment_maximum_percent": "cty.NumberIntVal(200)"} {
			got, err := nestedAttr(tctx, m.resources[service], attr)
			if err != nil || got.GoString() != v {
				fail("%s.%s with store_table = true: got %s (%v), want %s", service, attr, got.GoString(), err, v)
			}
		}
	}
	if v, err := nestedAttr(ctx, m.resources[service], "network_configuration", "security_groups"); err != nil || !slices.Equal(stringElems(v), []string{taskSG + ".id"}) {
		fail("%s.network_configuration.security_groups: got %q (%v), want [%s.id]", service, stringElems(v), err, taskSG)
	}
	subnets, _ := nestedAttr(ctx, m.resources[service], "network_configuration", "subnets")
	if len(stringElems(subnets)) == 0 {
		fail("%s.network_configuration.subnets: none", service)
	}
	if !dependsOn(m.resources[service], mount) {
		fail("%s: no depends_on %s: the task may start before its file system can be mounted", service, mount)
	}

	// The file system: encrypted; the access point makes every file the
	// image user's, in a directory only it reads.
	want(fs, str(fs, "encrypted"), "cty.True", "encrypted")
	for _, p := range [][]string{{"posix_user", "uid"}, {"posix_user", "gid"}, {"root_directory", "creation_info", "owner_uid"}, {"root_directory", "creation_info", "owner_gid"}} {
		want(ap, str(ap, p...), fmt.Sprintf("cty.NumberIntVal(%d)", picketUID), p...)
	}
	if perm := str(ap, "root_directory", "creation_info", "permissions"); perm != "0700" && perm != "0750" {
		fail("%s.root_directory.creation_info.permissions: got %q, want 0700 or 0750", ap, perm)
	}
	// One mount target per subnet of the service, in the file system's
	// group.
	forEach, diags := m.resources[mount].Body.Attributes["for_each"].Expr.Value(ctx)
	if diags.HasErrors() || !slices.Equal(sorted(stringElems(forEach)), sorted(stringElems(subnets))) {
		fail("%s for_each: got %q, want the service's subnets %q", mount, stringElems(forEach), stringElems(subnets))
	}
	if got := exprText(m.resources[mount], "subnet_id"); got != "each.value" {
		fail("%s.subnet_id: got %s, want each.value", mount, got)
	}
	if v, err := nestedAttr(ctx, m.resources[mount], "security_groups"); err != nil || !slices.Equal(stringElems(v), []string{efsSG + ".id"}) {
		fail("%s.security_groups: got %q (%v), want [%s.id]", mount, stringElems(v), err, efsSG)
	}
	var fsp iamPolicy
	if err := jsonAttr(m, ctx, fsPolicy, "policy", &fsp); err != nil {
		fail("%v", err)
	} else {
		for _, s := range fsp.Statement {
			if s.Effect != "Allow" {
				continue
			}
			if !slices.Equal(s.Principal["AWS"], []string{botRole + ".arn"}) || s.Principal.everyone() {
				fail("%s statement %q lets %q mount (ClientMount), want only %s", fsPolicy, s.Sid, s.Principal, botRole)
			}
			if got := s.Condition["StringEquals"]["elasticfilesystem:AccessPointArn"]; !slices.Equal(got, []string{ap + ".arn"}) {
				fail("%s statement %q: elasticfilesystem:AccessPointArn got %q, want [%s.arn]", fsPolicy, s.Sid, got, ap)
			}
		}
		denied := slices.ContainsFunc(fsp.Statement, func(s iamStatement) bool {
			return s.Effect == "Deny" && s.Principal.everyone() && slices.Equal(s.Condition["Bool"]["aws:SecureTransport"], []string{"false"})
		})
		if !denied {
			fail("%s: no Deny of every request without TLS (aws:SecureTransport false)", fsPolicy)
		}
	}

	// Network: nothing inbound to the task; NFS to the file system only
	// from the task's group.
	for _, k := range sortedKeys(m.resources) {
		if !strings.HasPrefix(k, "aws_vpc_security_group_ingress_rule.") {
			continue
		}
		sg := str(k, "security_group_id")
		switch sg {
		case taskSG + ".id":
			fail("%s admits inbound traffic to the Picket task, which needs none", k)
		case efsSG + ".id":
			if got := str(k, "referenced_security_group_id"); got != taskSG+".id" {
				fail("%s: NFS admitted from %q, want only the task's group %s", k, got, taskSG)
			}
			if _, ok := m.resources[k].Body.Attributes["cidr_ipv4"]; ok {
				fail("%s: NFS admitted from a network (cidr_ipv4), want only the task's group", k)
			}
		}
	}
	for _, k := range []string{taskSG, efsSG} {
		if b := m.resources[k]; len(b.Body.Blocks) > 0 || b.Body.Attributes["ingress"] != nil {
			fail("%s has inline rules; the rules are separate resources", k)
		}
	}

	// The execution role: started by ECS tasks of this account, reads the
	// Slack secret only.
	var trust iamPolicy
	if err := jsonAttr(m, ctx, execRole, "assume_role_policy", &trust); err != nil {
		fail("%v", err)
	} else {
		for _, p := range checkTrust(trust, partition, account) {
			fail("%s assume_role_policy: %s", execRole, p)
		}
	}
	want(execPol, str(execPol, "role"), execRole+".id", "role")
	var ep iamPolicy
	if err := jsonAttr(m, ctx, execPol, "policy", &ep); err != nil {
		fail("%v", err)
	} else {
		reads := false
		for _, s := range ep.Statement {
			if !slices.Contains(s.Action, "secretsmanager:GetSecretValue") {
				continue
			}
			reads = true
			if !slices.Equal(s.Resource, []string{secret + ".arn"}) {
				fail("%s: secretsmanager:GetSecretValue on %q, want only [%s.arn]", execPol, s.Resource, secret)
			}
		}
		if !reads {
			fail("%s: no secretsmanager:GetSecretValue: the task cannot get its tokens", execPol)
		}
	}
	return problems
}

// checkContainer checks Picket's container definition.
func checkContainer(c containerDefinition, secretARN, logGroup, queueURL string) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !slices.Equal(c.Command, []string{"run"}) {
		fail("container command: got %q, want [run]", c.Command)
	}
	if c.User != fmt.Sprintf("%d:%d", picketUID, picketUID) {
		fail("container user: got %q, want %d:%d (the image's non-root user, who owns /data)", c.User, picketUID, picketUID)
	}
	if !c.ReadonlyRootFilesystem {
		fail("container readonlyRootFilesystem: got false, want true")
	}

	// Every variable is one Picket reads; the tokens come only from the
	// secret, each from its JSON key.
	known := map[string]bool{}
	for _, v := range config.EnvVars() {
		known[v.Name] = true
	}
	env := map[string]string{}
	for _, e := range c.Environment {
		env[e.Name] = e.Value
		if !known[e.Name] {
			fail("container environment %s: Picket reads no such variable", e.Name)
		}
		if strings.HasPrefix(e.Name, "SLACK_") {
			fail("container environment %s: a token in the task definition; it comes from the secret", e.Name)
		}
	}
	for name, value := range map[string]string{"PICKET_QUEUE_URL": queueURL, "PICKET_DATA_DIR": "/data", "AWS_REGION": "data.aws_region.current.name"} {
		if env[name] != value {
			fail("container environment %s: got %q, want %q", name, env[name], value)
		}
	}
	if env[config.InlineConfigVar] != testConfig {
		fail("container environment %s: got %q, want var.picket_config %q", config.InlineConfigVar, env[config.InlineConfigVar], testConfig)
	}
	secrets := map[string]string{}
	for _, s := range c.Secrets {
		secrets[s.Name] = s.ValueFrom
		if !known[s.Name] {
			fail("container secret %s: Picket reads no such variable", s.Name)
		}
	}
	for _, name := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} {
		if want := secretARN + ":" + name + "::"; secrets[name] != want {
			fail("container secret %s: valueFrom got %q, want %q (the key %s of the module's secret)", name, secrets[name], want, name)
		}
	}

	dataMounted := slices.ContainsFunc(c.MountPoints, func(p struct {
		SourceVolume  string
		ContainerPath string
		ReadOnly      bool
	}) bool {
		return p.SourceVolume == "data" && p.ContainerPath == "/data" && !p.ReadOnly
	})
	if !dataMounted {
		fail("container mountPoints: got %+v, want the volume data writable on /data (PICKET_DATA_DIR)", c.MountPoints)
	}
	if !slices.Equal(c.HealthCheck.Command, []string{"CMD", "/picket", "healthcheck"}) {
		fail("container healthCheck: got %q, want [CMD /picket healthcheck]", c.HealthCheck.Command)
	}
	if c.LogConfiguration.LogDriver != "awslogs" || c.LogConfiguration.Options["awslogs-group"] != logGroup {
		fail("container logConfiguration: got %s to awslogs-group %q, want awslogs to %s", c.LogConfiguration.LogDriver, c.LogConfiguration.Options["awslogs-group"], logGroup)
	}
	return problems
}

// offContext evaluates the module with run_picket = false.
func offContext(m *module) *hcl.EvalContext {
	ctx, err := m.evalContext(map[string]cty.Value{"run_picket": cty.False})
	if err != nil {
		return &hcl.EvalContext{}
	}
	return ctx
}

// nestedAttr evaluates an attribute of b, or of the first nested block of
// each type named before it: ("network_configuration", "subnets").
func nestedAttr(ctx *hcl.EvalContext, b *hclsyntax.Block, path ...string) (cty.Value, error) {
	body := b.Body
	for _, typ := range path[:len(path)-1] {
		var next *hclsyntax.Body
		for _, inner := range body.Blocks {
			if inner.Type == typ {
				next = inner.Body
				break
			}
		}
		if next == nil {
			return cty.NilVal, fmt.Errorf("no %s block", typ)
		}
		body = next
	}
	a, ok := body.Attributes[path[len(path)-1]]
	if !ok {
		return cty.NilVal, fmt.Errorf("no attribute %s", strings.Join(path, "."))
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s: %s", strings.Join(path, "."), diags.Error())
	}
	return v, nil
}

// stringElems is the string elements of a list, set or tuple value.
func stringElems(v cty.Value) []string {
	if v == cty.NilVal || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		if e.Type().Equals(cty.String) && !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	return out
}

// exprText is the source text of attribute name of b.
func exprText(b *hclsyntax.Block, name string) string {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return ""
	}
	var parts []string
	for _, tr := range a.Expr.Variables() {
		parts = append(parts, strings.Join(traversalNames(tr), "."))
	}
	return strings.Join(parts, " ")
}

// dependsOn reports whether b lists key in depends_on.
func dependsOn(b *hclsyntax.Block, key string) bool {
	a, ok := b.Body.Attributes["depends_on"]
	if !ok {
		return false
	}
	for _, tr := range a.Expr.Variables() {
		if strings.Join(traversalNames(tr), ".") == key {
			return true
		}
	}
	return false
}

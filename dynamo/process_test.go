package dynamo_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/internal/dynalite"
)

// helperEnv carries the helper process's instructions:
// "ENDPOINT|TABLE|NAME|START_UNIX_NANO".
const helperEnv = "PICKET_DYNAMO_HELPER"

// TestSeveralProcesses runs three separate processes against one table,
// started together: each tries the same action claim and digest slot and
// appends audit entries. Exactly one process wins each claim, and the
// audit chain holds every entry of every process, verified.
func TestSeveralProcesses(t *testing.T) {
	srv := dynalite.Shared(t)
	table := srv.Table(t)
	const procs, entries = 3, 10
	start := time.Now().Add(2 * time.Second).UnixNano()
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*strings.Builder, procs)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|p%d|%d", helperEnv, srv.URL(), table, i, start))
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	won := map[string]int{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if k, ok := strings.CutPrefix(line, "WON "); ok {
				won[k]++
			}
		}
	}
	if won["action"] != 1 || won["digest"] != 1 {
		t.Errorf("got %v winners, want exactly one process winning the action claim and the digest slot", won)
	}
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.VerifyAuditChain()
	if err != nil || c.Entries != procs*entries {
		t.Errorf("audit chain: got %d entries, %v; want %d verified", c.Entries, err, procs*entries)
	}
}

// TestHelperProcess is one of TestSeveralProcesses's processes; it does
// nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return
	}
	parts := strings.Split(spec, "|")
	endpoint, table, name := parts[0], parts[1], parts[2]
	startAt, _ := strconv.ParseInt(parts[3], 10, 64)
	client := dynamodb.NewFromConfig(aws.Config{Region: dynalite.Region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	s, err := dynamo.New(client, dynamo.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, startAt)))
	_, ok, err := s.ClaimAction(picket.ActionRecord{Status: picket.StatusRunning, Request: picket.ActionRequest{
		ID: "req-" + name, Kind: picket.ActionSuppress, FindingKey: "fk", Target: picket.Resource{ID: "r"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		fmt.Println("WON action")
	}
	ok, err = s.ClaimDigestRun("daily", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		fmt.Println("WON digest")
	}
	for i := range 10 {
		if _, err := s.Audit(picket.AuditEntry{Event: "executed", Actor: picket.Actor{ID: name}, Detail: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

package fauxqs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// RequireEnv is the environment variable that turns a missing emulator from
// a skipped test into a failed one. `make test` and CI set it to 1.
const RequireEnv = "PICKET_REQUIRE_EMULATOR"

// Region is the region the emulator's queues and topics live in.
const Region = "us-east-1"

// AccountID is the account id fauxqs puts in every queue URL and ARN.
const AccountID = "000000000000"

// startTimeout bounds how long the launcher may take to print its URL. Node
// loading fastify and the AWS SDK takes about a second; a busy 2-core machine
// running other test binaries can take several.
const startTimeout = 60 * time.Second

// Emulator is a running fauxqs process listening on 127.0.0.1.
type Emulator struct {
	tb  testing.TB
	url string
	cfg aws.Config
	sqs *sqs.Client
	sns *sns.Client
}

// Start launches a fresh emulator for tb and stops it in tb's cleanup. It
// skips tb when node or test/emulator/node_modules is missing, or fails it
// when PICKET_REQUIRE_EMULATOR=1.
func Start(tb testing.TB) *Emulator {
	tb.Helper()
	dir, err := emulatorDir()
	if err != nil {
		unavailable(tb, err.Error())
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(tb, "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fauxqs", "package.json")); err != nil {
		unavailable(tb, "the fauxqs npm package is not installed in "+filepath.Join(dir, "node_modules"))
	}

	url, err := launch(tb, node, dir)
	if err != nil {
		tb.Fatalf("start fauxqs emulator: %v", err)
	}
	e := &Emulator{tb: tb, url: url}
	e.cfg = aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url),
	}
	e.sqs = sqs.NewFromConfig(e.cfg)
	e.sns = sns.NewFromConfig(e.cfg)
	return e
}

// URL returns the emulator's base URL, e.g. "http://127.0.0.1:40381".
func (e *Emulator) URL() string { return e.url }

// AWSConfig returns an SDK configuration that sends every SQS and SNS call
// to the emulator: static credentials "test"/"test", region us-east-1 and
// BaseEndpoint set to URL. Clients built from it need no other option.
func (e *Emulator) AWSConfig() aws.Config { return e.cfg.Copy() }

// SQS returns an SQS client bound to the emulator.
func (e *Emulator) SQS() *sqs.Client { return e.sqs }

// SNS returns an SNS client bound to the emulator.
func (e *Emulator) SNS() *sns.Client { return e.sns }

// unavailable skips tb, or fails it when RequireEnv is set.
func unavailable(tb testing.TB, why string) {
	tb.Helper()
	msg := fmt.Sprintf("SNS/SQS emulator unavailable: %s; run `npm ci --prefix test/emulator` (Node 20 or later)", why)
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s (%s=1 forbids skipping)", msg, RequireEnv)
	}
	tb.Skip(msg)
}

// emulatorDir finds test/emulator under the module root, the first directory
// above the working directory (the test's package directory) with a go.mod.
func emulatorDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "test", "emulator"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// launch runs the launcher, waits for its LISTENING line and registers a
// cleanup that stops the process and waits for it.
func launch(tb testing.TB, node, dir string) (string, error) {
	cmd := exec.Command(node, "launch.mjs", "0")
	cmd.Dir = dir
	// The launcher exits when stdin closes: keeping the write end open for
	// the life of the emulator, and only here, ties it to this process.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", fmt.Errorf("stdin pipe: %w", err)
	}
	// An os.Pipe rather than cmd.StdoutPipe: Wait closes the latter, which
	// could lose the LISTENING line while the reader below still reads.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("stdout pipe: %w", err)
	}
	cmd.Stdout = stdoutW
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	err = cmd.Start()
	_ = stdoutW.Close() // the child holds its own copy
	if err != nil {
		_ = stdout.Close()
		return "", fmt.Errorf("run %s launch.mjs: %w", node, err)
	}

	waited := make(chan struct{})
	var waitErr error
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = stdin.Close()
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-waited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
			}
		})
	}

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil {
			lines <- strings.TrimSpace(line)
		}
		close(lines)
		// Keep draining so the launcher never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, r)
		_ = stdout.Close()
	}()
	go func() {
		waitErr = cmd.Wait()
		close(waited)
	}()

	select {
	case line, ok := <-lines:
		if !ok {
			stop()
			return "", fmt.Errorf("launcher exited before listening (%v): %s", waitErr, strings.TrimSpace(stderr.String()))
		}
		url, found := strings.CutPrefix(line, "LISTENING ")
		if !found || !strings.HasPrefix(url, "http://127.0.0.1:") {
			stop()
			return "", fmt.Errorf("unexpected launcher output %q: %s", line, strings.TrimSpace(stderr.String()))
		}
		tb.Cleanup(stop)
		return url, nil
	case <-time.After(startTimeout):
		stop()
		return "", fmt.Errorf("launcher printed no URL within %s: %s", startTimeout, strings.TrimSpace(stderr.String()))
	}
}

// lockedBuffer collects the launcher's stderr for error messages; the
// process writes it while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

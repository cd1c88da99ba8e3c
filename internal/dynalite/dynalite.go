// Package dynalite starts dynalite, the npm DynamoDB-compatible server
// pinned in test/emulator, for tests, and gives them fresh tables on it.
// Like internal/fauxqs it skips a test when dynalite is not installed,
// and fails it when PICKET_REQUIRE_EMULATOR=1 (make test, CI).
package dynalite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// RequireEnv turns a missing dynalite from a skipped test into a failed one.
const RequireEnv = "PICKET_REQUIRE_EMULATOR"

// Region is the region the tests' clients sign for.
const Region = "us-east-1"

const startTimeout = 60 * time.Second

// Server is a running dynalite on 127.0.0.1.
type Server struct {
	url    string
	tables atomic.Int64
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// Shared starts one dynalite for the whole test binary (stopped when the
// binary's standard input pipe closes, that is when it exits) and returns
// it; tests get their own tables with Table. It skips or fails tb when
// dynalite is missing.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	dir, node := check(tb)
	sharedOnce.Do(func() {
		var url string
		url, sharedErr = launch(node, dir)
		shared = &Server{url: url}
	})
	if sharedErr != nil {
		tb.Fatalf("start dynalite: %v", sharedErr)
	}
	return shared
}

// URL is the server's endpoint, e.g. "http://127.0.0.1:40381".
func (s *Server) URL() string { return s.url }

// Client returns a DynamoDB client for the server: static credentials,
// region us-east-1.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.url),
	})
}

// Table creates a new, empty store table and returns its name.
func (s *Server) Table(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("picket-test-%d-%d", os.Getpid(), s.tables.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := CreateTable(ctx, s.Client(), name, 20*time.Millisecond); err != nil {
		tb.Fatalf("%v", err)
	}
	return name
}

func check(tb testing.TB) (dir, node string) {
	tb.Helper()
	dir, err := emulatorDir()
	if err != nil {
		unavailable(tb, err.Error())
	}
	node, err = exec.LookPath("node")
	if err != nil {
		unavailable(tb, "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dynalite", "package.json")); err != nil {
		unavailable(tb, "the dynalite npm package is not installed in "+filepath.Join(dir, "node_modules"))
	}
	return dir, node
}

func unavailable(tb testing.TB, why string) {
	tb.Helper()
	msg := fmt.Sprintf("DynamoDB test server unavailable: %s; run `make emulator` (npm ci --ignore-scripts --prefix test/emulator; Node 20 or later)", why)
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s (%s=1 forbids skipping)", msg, RequireEnv)
	}
	tb.Skip(msg)
}

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

// launch runs test/emulator/dynalite.mjs and waits for its LISTENING line.
// The launcher exits when its standard input closes: the write end is kept
// open, never closed, so the server lives as long as this process.
func launch(node, dir string) (string, error) {
	cmd := exec.Command(node, "dynalite.mjs", "0")
	cmd.Dir = dir
	if _, err := cmd.StdinPipe(); err != nil {
		return "", fmt.Errorf("stdin pipe: %w", err)
	}
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("stdout pipe: %w", err)
	}
	cmd.Stdout = stdoutW
	var stderr strings.Builder
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return stderr.Write(p) })
	err = cmd.Start()
	_ = stdoutW.Close()
	if err != nil {
		return "", fmt.Errorf("run %s dynalite.mjs: %w", node, err)
	}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil {
			lines <- strings.TrimSpace(line)
		}
		close(lines)
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { _ = cmd.Wait() }()
	errText := func() string { mu.Lock(); defer mu.Unlock(); return strings.TrimSpace(stderr.String()) }
	select {
	case line, ok := <-lines:
		url, found := strings.CutPrefix(line, "LISTENING ")
		if !ok || !found || !strings.HasPrefix(url, "http://127.0.0.1:") {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return "", fmt.Errorf("launcher printed %q: %s", line, errText())
		}
		return url, nil
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("launcher printed no URL within %s: %s", startTimeout, errText())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

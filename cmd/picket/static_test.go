package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReleaseBinaryIsStatic builds picket as the Makefile and the
// Dockerfile do (CGO_ENABLED=0) and checks the result needs no dynamic
// loader or shared library: the distroless static image has neither.
func TestReleaseBinaryIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cgoOff := regexp.MustCompile(`CGO_ENABLED=0 ([A-Z]+=\S+ )*(\$\(GO\)|go) build`)
	for _, f := range []string{"../../Makefile", "../../Dockerfile"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !cgoOff.Match(b) {
			t.Errorf("%s: got no `CGO_ENABLED=0 go build`, want the release build static", f)
		}
	}
	bin := filepath.Join(t.TempDir(), "picket")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("got a %s program header, want a static binary", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("got shared libraries %v, want none", libs)
	}
}

// TestImagesPinnedByDigest: every base image of the container builds is
// pinned by digest, so a rebuild cannot pick up a different image under
// the same tag.
func TestImagesPinnedByDigest(t *testing.T) {
	from := regexp.MustCompile(`(?m)^FROM\s+(?:--platform=\S+\s+)?(\S+)`)
	pinned := regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	for _, f := range []string{"../../Dockerfile", "../../Dockerfile.release"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		images := from.FindAllStringSubmatch(string(b), -1)
		if len(images) == 0 {
			t.Fatalf("%s: no FROM line", f)
		}
		for _, m := range images {
			if !pinned.MatchString(m[1]) {
				t.Errorf("%s: base image %s is not pinned by digest", f, m[1])
			}
		}
	}
}

// TestNoSchemaSerdeClients: the AWS SDK's newer JSON-protocol service
// clients build their serializers' schemas at start-up (service/*/schemas,
// 0.15 to 1.4 MB of heap each, plus their code), which took the idle
// resident memory from 29 MB to 35 MB, over the 30 MB budget
// (BenchmarkStartupAndIdleMemory). go.mod pins those services (sqs, kms,
// configservice, ssm, dynamodb) at the last versions without them; this
// fails when an upgrade brings them back, so that the budget is measured
// again before it lands.
func TestNoSchemaSerdeClients(t *testing.T) {
	if testing.Short() {
		t.Skip("lists the binary's packages")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The credential providers' own clients (SSO, sign-in) come with
	// aws-sdk-go-v2/config; theirs are small (under 80 kB).
	allowed := []string{"signin", "sso", "ssooidc"}
	for _, pkg := range strings.Fields(string(out)) {
		svc, ok := strings.CutPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/")
		if ok && strings.HasSuffix(pkg, "/schemas") && !slices.Contains(allowed, strings.TrimSuffix(svc, "/schemas")) {
			t.Errorf("picket links %s: measure the idle memory (make bench) before raising that service's version", pkg)
		}
	}
}

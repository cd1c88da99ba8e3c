package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The files of the build and release, from deploy/.
const (
	goreleaserFile  = "../.goreleaser.yaml"
	workflowFile    = "../.github/workflows/release.yml"
	dockerfile      = "../Dockerfile"
	releaseDocker   = "../Dockerfile.release"
	makefile        = "../Makefile"
	dockerignore    = "../.dockerignore"
	mainGo          = "../cmd/picket/main.go"
	releasedImage   = "ghcr.io/picketsec/picket"
	versionVariable = "main.version"
)

// goreleaserConfig is the part of .goreleaser.yaml the test reads.
type goreleaserConfig struct {
	Version int `yaml:"version"`
	Builds  []struct {
		ID      string   `yaml:"id"`
		Main    string   `yaml:"main"`
		Binary  string   `yaml:"binary"`
		Env     []string `yaml:"env"`
		Flags   []string `yaml:"flags"`
		Ldflags []string `yaml:"ldflags"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
	} `yaml:"builds"`
	Archives []struct {
		Files []string `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
	SBOMs []struct {
		Artifacts string `yaml:"artifacts"`
	} `yaml:"sboms"`
	Dockers []struct {
		IDs                []string `yaml:"ids"`
		Goos               string   `yaml:"goos"`
		Goarch             string   `yaml:"goarch"`
		Dockerfile         string   `yaml:"dockerfile"`
		Use                string   `yaml:"use"`
		ImageTemplates     []string `yaml:"image_templates"`
		BuildFlagTemplates []string `yaml:"build_flag_templates"`
	} `yaml:"dockers"`
	DockerManifests []struct {
		NameTemplate   string   `yaml:"name_template"`
		ImageTemplates []string `yaml:"image_templates"`
	} `yaml:"docker_manifests"`
}

func readYAML(t *testing.T, name string, out any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestGoReleaser checks the release configuration offline: static
// binaries with the version stamped into the variable main.go declares,
// checksums, SBOMs, and the image built for both architectures and
// published as one multi-arch name.
func TestGoReleaser(t *testing.T) {
	var c goreleaserConfig
	readYAML(t, goreleaserFile, &c)
	for _, p := range checkGoReleaser(c) {
		t.Error(p)
	}
}

// TestGoReleaserBroken proves checkGoReleaser catches broken copies.
func TestGoReleaserBroken(t *testing.T) {
	src, err := os.ReadFile(goreleaserFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"version not stamped", "-X main.version={{ .Version }}", "-X main.Version={{ .Version }}", "main.version"},
		{"cgo on", "      - CGO_ENABLED=0\n", "      - CGO_ENABLED=1\n", "CGO_ENABLED=0"},
		{"no arm64 binary", "    goarch:\n      - amd64\n      - arm64\n", "    goarch:\n      - amd64\n", "arm64"},
		{"another main package", "main: ./cmd/picket", "main: ./cmd/other", "./cmd/picket"},
		{"no checksums", "checksum:\n  name_template: checksums.txt\n  algorithm: sha256\n", "", "checksum"},
		{"no SBOM", "sboms:\n  - id: archives\n    artifacts: archive\n", "", "SBOM"},
		{"arm64 image of the amd64 binary", "    goarch: arm64\n    dockerfile", "    goarch: amd64\n    dockerfile", "arm64"},
		{"image platform not the binary's", "      - --platform=linux/arm64\n", "      - --platform=linux/amd64\n", "--platform"},
		{"image without the version", "      - --build-arg=VERSION={{ .Version }}\n      - --label=org.opencontainers.image.revision={{ .FullCommit }}\n  - id: picket-arm64", "      - --label=org.opencontainers.image.revision={{ .FullCommit }}\n  - id: picket-arm64", "VERSION"},
		{"manifest misses an architecture", "  - name_template: \"ghcr.io/picketsec/picket:{{ .Version }}\"\n    image_templates:\n      - \"ghcr.io/picketsec/picket:{{ .Version }}-amd64\"\n      - \"ghcr.io/picketsec/picket:{{ .Version }}-arm64\"\n",
			"  - name_template: \"ghcr.io/picketsec/picket:{{ .Version }}\"\n    image_templates:\n      - \"ghcr.io/picketsec/picket:{{ .Version }}-amd64\"\n", "manifest"},
		{"image elsewhere", "\"ghcr.io/picketsec/picket:latest\"", "\"docker.io/picket/picket:latest\"", "ghcr.io/picketsec/picket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.old) {
				t.Fatalf("%s no longer contains %q: update this test", goreleaserFile, tt.old)
			}
			var c goreleaserConfig
			if err := yaml.Unmarshal([]byte(strings.Replace(string(src), tt.old, tt.new, 1)), &c); err != nil {
				t.Fatal(err)
			}
			problems := checkGoReleaser(c)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("got problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}

func checkGoReleaser(c goreleaserConfig) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Version != 2 {
		fail("version: got %d, want 2 (GoReleaser v2)", c.Version)
	}
	if len(c.Builds) != 1 {
		return append(problems, fmt.Sprintf("builds: got %d, want 1", len(c.Builds)))
	}
	b := c.Builds[0]
	if b.Main != "./cmd/picket" || b.Binary != "picket" {
		fail("build: main %q binary %q, want ./cmd/picket and picket", b.Main, b.Binary)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		fail("build env %q: want CGO_ENABLED=0 (a static binary for the distroless image)", b.Env)
	}
	if !slices.Contains(b.Flags, "-trimpath") {
		fail("build flags %q: want -trimpath", b.Flags)
	}
	if !slices.ContainsFunc(b.Ldflags, func(f string) bool { return strings.Contains(f, "-X "+versionVariable+"={{ .Version }}") }) {
		fail("build ldflags %q: want -X %s={{ .Version }} (picket version)", b.Ldflags, versionVariable)
	}
	for _, os := range []string{"linux", "darwin"} {
		if !slices.Contains(b.Goos, os) {
			fail("build goos %q: want %s", b.Goos, os)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !slices.Contains(b.Goarch, arch) {
			fail("build goarch %q: want %s", b.Goarch, arch)
		}
	}
	for _, a := range c.Archives {
		for _, f := range a.Files {
			if _, err := os.Stat(filepath.Join("..", f)); err != nil {
				fail("archive file %s: %v", f, err)
			}
		}
	}
	if c.Checksum.NameTemplate == "" || c.Checksum.Algorithm != "sha256" {
		fail("checksum: got %+v, want checksums.txt with sha256", c.Checksum)
	}
	if !slices.ContainsFunc(c.SBOMs, func(s struct {
		Artifacts string `yaml:"artifacts"`
	}) bool {
		return s.Artifacts == "archive" || s.Artifacts == "binary"
	}) {
		fail("sboms %+v: want an SBOM of every archive or binary", c.SBOMs)
	}

	// One image per architecture, from the binary of that architecture,
	// built for that platform with the version; one manifest per name
	// holding them all.
	images := map[string]string{} // arch -> image template
	for _, d := range c.Dockers {
		if d.Goos != "linux" || d.Use != "buildx" {
			fail("docker %q: goos %q use %q, want linux and buildx", d.ImageTemplates, d.Goos, d.Use)
		}
		if !slices.Contains(d.BuildFlagTemplates, "--platform=linux/"+d.Goarch) {
			fail("docker %q: build flags %q, want --platform=linux/%s like its binary", d.ImageTemplates, d.BuildFlagTemplates, d.Goarch)
		}
		if !slices.Contains(d.BuildFlagTemplates, "--build-arg=VERSION={{ .Version }}") {
			fail("docker %q: build flags %q, want --build-arg=VERSION={{ .Version }}", d.ImageTemplates, d.BuildFlagTemplates)
		}
		if _, err := os.Stat(filepath.Join("..", d.Dockerfile)); err != nil {
			fail("docker dockerfile %s: %v", d.Dockerfile, err)
		}
		for _, img := range d.ImageTemplates {
			if !strings.HasPrefix(img, releasedImage+":") {
				fail("docker image %s: want %s", img, releasedImage)
			}
			if !strings.HasSuffix(img, "-"+d.Goarch) {
				fail("docker image %s holds the %s binary: want a tag ending -%s", img, d.Goarch, d.Goarch)
			}
			images[d.Goarch] = img
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if images[arch] == "" {
			fail("dockers: no image for %s", arch)
		}
	}
	var names []string
	for _, m := range c.DockerManifests {
		names = append(names, m.NameTemplate)
		if !strings.HasPrefix(m.NameTemplate, releasedImage+":") {
			fail("docker manifest %s: want %s", m.NameTemplate, releasedImage)
		}
		if got, want := sorted(m.ImageTemplates), sorted([]string{images["amd64"], images["arm64"]}); !slices.Equal(got, want) {
			fail("docker manifest %s: images %q, want every architecture's %q", m.NameTemplate, got, want)
		}
	}
	for _, want := range []string{releasedImage + ":{{ .Version }}", releasedImage + ":latest"} {
		if !slices.Contains(names, want) {
			fail("docker manifests %q: want %s", names, want)
		}
	}
	return problems
}

// TestReleaseWorkflow: a version tag runs the tests, then GoReleaser with
// what it needs to publish the image and the SBOMs.
func TestReleaseWorkflow(t *testing.T) {
	var w struct {
		On struct {
			Push struct {
				Tags []string `yaml:"tags"`
			} `yaml:"push"`
		} `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			Steps []struct {
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, workflowFile, &w)
	if !slices.Contains(w.On.Push.Tags, "v*") {
		t.Errorf("on.push.tags %q: want v*", w.On.Push.Tags)
	}
	for k, v := range map[string]string{"contents": "write", "packages": "write"} {
		if w.Permissions[k] != v {
			t.Errorf("permissions.%s: got %q, want %q", k, w.Permissions[k], v)
		}
	}
	job, ok := w.Jobs["release"]
	if !ok {
		t.Fatalf("no job release")
	}
	var order []string
	for _, s := range job.Steps {
		name := s.Uses
		if i := strings.Index(name, "@"); i > 0 {
			name = name[:i]
		}
		if s.Run != "" {
			name = "run: " + s.Run
		}
		order = append(order, name)
		switch name {
		case "actions/checkout":
			if s.With["fetch-depth"] != "0" {
				t.Errorf("checkout fetch-depth %q: want 0 (GoReleaser reads the tags)", s.With["fetch-depth"])
			}
		case "docker/login-action":
			if s.With["registry"] != "ghcr.io" {
				t.Errorf("docker login registry %q: want ghcr.io", s.With["registry"])
			}
		case "goreleaser/goreleaser-action":
			if s.With["args"] != "release --clean" {
				t.Errorf("goreleaser args %q: want release --clean", s.With["args"])
			}
		}
	}
	want := []string{"actions/checkout", "actions/setup-go", "run: make lint test", "docker/setup-buildx-action", "docker/login-action",
		"anchore/sbom-action/download-syft", "goreleaser/goreleaser-action"}
	last := -1
	for _, w := range want {
		i := slices.Index(order, w)
		if i < 0 || i < last {
			t.Errorf("steps %q: want %s, in the order %q", order, w, want)
			continue
		}
		last = i
	}
}

// TestImageVersion: `make docker` and the release stamp the version the
// binary reports, and both images run as the user that owns /data.
func TestImageVersion(t *testing.T) {
	mk, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	docker := regexp.MustCompile(`(?m)^docker:.*\n\t(.*)$`).FindStringSubmatch(string(mk))
	if docker == nil || !strings.Contains(docker[1], "--build-arg VERSION=$(VERSION)") {
		t.Errorf("Makefile docker recipe %q: want --build-arg VERSION=$(VERSION)", docker)
	}
	src, err := os.ReadFile(mainGo)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^var version = "dev"$`).Match(src) {
		t.Errorf("%s no longer declares var version: the -X %s stamps nothing", mainGo, versionVariable)
	}
	for _, name := range []string{dockerfile, releaseDocker} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.Contains(s, "ARG VERSION") {
			t.Errorf("%s: no ARG VERSION", name)
		}
		if name == dockerfile && !strings.Contains(s, "-X "+versionVariable+"=${VERSION}") {
			t.Errorf("%s: the build does not stamp -X %s=${VERSION}", name, versionVariable)
		}
		for _, want := range []string{"USER 65532:65532", "--chown=65532:65532", "PICKET_DATA_DIR=/data", `ENTRYPOINT ["/picket"]`, `CMD ["run"]`} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
}

// TestIgnoreFiles: local deployment state (Terraform providers, state,
// variable files, Picket's config and store) is neither committed nor
// sent to docker build; the sources are.
func TestIgnoreFiles(t *testing.T) {
	local := []string{
		"deploy/terraform/.terraform/providers/registry.terraform.io/hashicorp/aws/6.0.0/linux_amd64/terraform-provider-aws",
		"deploy/terraform/terraform.tfstate", "deploy/terraform/terraform.tfstate.backup",
		"deploy/terraform/picket.auto.tfvars", "deploy/terraform/member/.terraform/x", "picket.yaml", "picket-data/picket.db",
	}
	sources := []string{"go.mod", "cmd/picket/main.go", "cmd/picket/samples/01_guardduty_tor_ip_caller.sns.json", "deploy/picket.example.yaml", "deploy/terraform/main.tf"}

	t.Run(".dockerignore", func(t *testing.T) {
		patterns := readDockerignore(t)
		for _, p := range append(slices.Clone(local), ".git/HEAD", "bin/picket") {
			if !dockerIgnored(patterns, p) {
				t.Errorf("%s goes into the build context", p)
			}
		}
		for _, p := range sources {
			if dockerIgnored(patterns, p) {
				t.Errorf("%s is left out of the build context; the build needs it", p)
			}
		}
	})
	t.Run(".gitignore", func(t *testing.T) {
		git, err := exec.LookPath("git")
		if err != nil {
			t.Skip("git is not installed")
		}
		for _, p := range local {
			if err := exec.Command(git, "-C", "..", "check-ignore", "-q", "--no-index", p).Run(); err != nil {
				t.Errorf("%s is not ignored by git (%v)", p, err)
			}
		}
		for _, p := range sources {
			if err := exec.Command(git, "-C", "..", "check-ignore", "-q", "--no-index", p).Run(); err == nil {
				t.Errorf("%s is ignored by git", p)
			}
		}
	})
}

func readDockerignore(t *testing.T) []*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile(dockerignore)
	if err != nil {
		t.Fatal(err)
	}
	var out []*regexp.Regexp
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf("%s: exceptions (%s) are not supported by this test", dockerignore, l)
		}
		out = append(out, dockerPattern(strings.Trim(l, "/")))
	}
	return out
}

// dockerPattern turns a .dockerignore pattern into a regular expression
// over slash-separated paths: "**" any number of directories, "*" and "?"
// within one name.
func dockerPattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case p[i] == '*':
			b.WriteString("[^/]*")
		case p[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// dockerIgnored reports whether path, or a directory it is in, matches a
// pattern (an ignored directory leaves out everything under it).
func dockerIgnored(patterns []*regexp.Regexp, path string) bool {
	parts := strings.Split(path, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		for _, re := range patterns {
			if re.MatchString(prefix) {
				return true
			}
		}
	}
	return false
}

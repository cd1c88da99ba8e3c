package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/picketsec/picket/config"
)

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name                  string `yaml:"name"`
					PersistentVolumeClaim struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type k8sContainer struct {
	Image string    `yaml:"image"`
	Ports []k8sPort `yaml:"ports"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	EnvFrom []struct {
		SecretRef struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	LivenessProbe   k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe  k8sProbe `yaml:"readinessProbe"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

func TestKubernetesExample(t *testing.T) {
	b, err := os.ReadFile("kubernetes/picket.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]k8sObject{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubernetes/picket.yaml: %v", err)
		}
		objects[o.Kind] = o
	}
	for _, kind := range []string{"Deployment", "PersistentVolumeClaim", "ServiceAccount", "ConfigMap"} {
		if _, ok := objects[kind]; !ok {
			t.Errorf("no %s in kubernetes/picket.yaml", kind)
		}
	}
	d := objects["Deployment"]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas: got %v, want 1 (one writer for the bbolt store)", d.Spec.Replicas)
	}
	if got := d.Spec.Strategy.Type; got != "Recreate" {
		t.Errorf("strategy: got %q, want Recreate (never two pods on the store)", got)
	}
	pod := d.Spec.Template.Spec
	if !pod.SecurityContext.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot: got false, want true")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("containers: got %d, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("readOnlyRootFilesystem: got false, want true")
	}
	if p := c.SecurityContext.AllowPrivilegeEscalation; p == nil || *p {
		t.Errorf("allowPrivilegeEscalation: got %v, want false", p)
	}

	// Probes reach the bot's HTTP server on 8080.
	portOK := func(port any) bool {
		if port == 8080 {
			return true
		}
		name, _ := port.(string)
		return slices.ContainsFunc(c.Ports, func(p k8sPort) bool { return p.Name == name && p.ContainerPort == 8080 })
	}
	for _, p := range []struct {
		name  string
		probe k8sProbe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if got := p.probe.HTTPGet.Path; got != p.path {
			t.Errorf("%s path: got %q, want %q", p.name, got, p.path)
		}
		if !portOK(p.probe.HTTPGet.Port) {
			t.Errorf("%s port: got %v, want 8080", p.name, p.probe.HTTPGet.Port)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if got := env["PICKET_HTTP_ADDR"]; got != "0.0.0.0:8080" {
		t.Errorf("PICKET_HTTP_ADDR: got %q, want 0.0.0.0:8080 (the default 127.0.0.1 is unreachable to the kubelet)", got)
	}
	if got := env["PICKET_DATA_DIR"]; got != "/data" {
		t.Errorf("PICKET_DATA_DIR: got %q, want /data", got)
	}
	if env["PICKET_QUEUE_URL"] == "" {
		t.Errorf("PICKET_QUEUE_URL is not set")
	}
	for _, e := range c.Env {
		if e.Name == "SLACK_BOT_TOKEN" || e.Name == "SLACK_APP_TOKEN" {
			t.Errorf("%s is written in the manifest; it must come from the Secret", e.Name)
		}
	}
	if len(c.EnvFrom) == 0 || c.EnvFrom[0].SecretRef.Name == "" {
		t.Errorf("envFrom: got %+v, want a secretRef with the Slack tokens", c.EnvFrom)
	}

	// /data is the persistent volume claim.
	var mount string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/data" {
			mount = m.Name
		}
	}
	if mount == "" {
		t.Fatalf("nothing is mounted on /data")
	}
	claim := ""
	for _, v := range pod.Volumes {
		if v.Name == mount {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if got, want := claim, objects["PersistentVolumeClaim"].Metadata.Name; got == "" || got != want {
		t.Errorf("/data volume claim: got %q, want the manifest's PersistentVolumeClaim %q", got, want)
	}

	// The image is the one the release publishes.
	if repo, _, _ := strings.Cut(c.Image, ":"); repo != releasedImage {
		t.Errorf("image %q: want %s, which the release workflow publishes (or your own build)", c.Image, releasedImage)
	}

	// PICKET_CONFIG names the ConfigMap's file, mounted where it says.
	cm := objects["ConfigMap"]
	dir, file := path.Split(env["PICKET_CONFIG"])
	var mounted string
	for _, m := range c.VolumeMounts {
		if strings.TrimSuffix(m.MountPath, "/")+"/" == dir {
			mounted = m.Name
		}
	}
	mountedMap := ""
	for _, v := range pod.Volumes {
		if v.Name == mounted {
			mountedMap = v.ConfigMap.Name
		}
	}
	if mounted == "" || mountedMap != cm.Metadata.Name {
		t.Fatalf("PICKET_CONFIG %q: got the volume %q of ConfigMap %q mounted there, want the ConfigMap %q", env["PICKET_CONFIG"], mounted, mountedMap, cm.Metadata.Name)
	}
	doc, ok := cm.Data[file]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", cm.Metadata.Name, file)
	}

	// The configuration is complete and valid with the Secret's tokens
	// and the manifest's variables: routes, a digest, and a role that
	// may run the commands and press the buttons.
	vars := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(env["PICKET_CONFIG"], func(k string) string { return vars[k] }, func(name string) ([]byte, error) {
		if name != env["PICKET_CONFIG"] {
			return nil, fmt.Errorf("read %s: not in the manifest", name)
		}
		return []byte(doc), nil
	})
	if err != nil {
		t.Fatalf("the ConfigMap's %s: %v", file, err)
	}
	if len(cfg.Routes) == 0 || len(cfg.Digests) == 0 || len(cfg.Roles) == 0 {
		t.Errorf("the ConfigMap's configuration: got %d routes, %d digests, %d roles, want each", len(cfg.Routes), len(cfg.Digests), len(cfg.Roles))
	}
	for _, r := range cfg.Roles {
		if len(r.Commands) == 0 || len(r.Actions) == 0 {
			t.Errorf("role %s: commands %q actions %q, want both (or /picket help answers \"Not allowed\")", r.Name, r.Commands, r.Actions)
		}
	}
}

// k8sReplicas is the part of the replicas example the test reads beyond
// k8sObject: the rollout, the spread and the disruption budget.
type k8sReplicas struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable any `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		MinAvailable any `yaml:"minAvailable"`
		Selector     struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TopologySpreadConstraints []struct {
					TopologyKey string `yaml:"topologyKey"`
				} `yaml:"topologySpreadConstraints"`
				Volumes []struct {
					PersistentVolumeClaim *struct{} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestKubernetesReplicasExample: the replicas example runs 3 pods on the
// DynamoDB store (no volume: the state is in the table), rolls them one
// at a time with none unavailable, spreads them over zones, and a
// PodDisruptionBudget keeps at least two; its configuration is valid and
// selects the DynamoDB store.
func TestKubernetesReplicasExample(t *testing.T) {
	b, err := os.ReadFile("kubernetes/picket-replicas.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects, specs := map[string]k8sObject{}, map[string]k8sReplicas{}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var o k8sObject
		var r k8sReplicas
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
			t.Fatal(err)
		}
		objects[o.Kind], specs[o.Kind] = o, r
	}
	d, pdb := specs["Deployment"], specs["PodDisruptionBudget"]
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 3 {
		t.Errorf("replicas: got %v, want 3", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != "RollingUpdate" || fmt.Sprint(d.Spec.Strategy.RollingUpdate.MaxUnavailable) != "0" {
		t.Errorf("strategy: got %s with maxUnavailable %v, want RollingUpdate with 0", d.Spec.Strategy.Type, d.Spec.Strategy.RollingUpdate.MaxUnavailable)
	}
	if len(d.Spec.Template.Spec.TopologySpreadConstraints) == 0 {
		t.Error("no topologySpreadConstraints: the replicas may share a zone")
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Error("a persistent volume is mounted: replicas keep their state in DynamoDB")
		}
	}
	if pdb.Kind != "PodDisruptionBudget" || fmt.Sprint(pdb.Spec.MinAvailable) != "2" {
		t.Errorf("PodDisruptionBudget: got %+v, want minAvailable 2", pdb.Spec.MinAvailable)
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("PodDisruptionBudget selects %s=%s, which the pods do not carry", k, v)
		}
	}
	c := objects["Deployment"].Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	doc := objects["ConfigMap"].Data[path.Base(env["PICKET_CONFIG"])]
	vars := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(env["PICKET_CONFIG"], func(k string) string { return vars[k] }, func(string) ([]byte, error) { return []byte(doc), nil })
	if err != nil {
		t.Fatalf("the ConfigMap's configuration: %v", err)
	}
	if cfg.Store.Backend != config.StoreDynamoDB || cfg.Store.Table == "" {
		t.Errorf("store: got %+v, want the DynamoDB table", cfg.Store)
	}
	if env["PICKET_HTTP_ADDR"] != "0.0.0.0:8080" {
		t.Errorf("PICKET_HTTP_ADDR: got %q, want 0.0.0.0:8080", env["PICKET_HTTP_ADDR"])
	}
}

// SPDX-License-Identifier: Apache-2.0

package k8svalidate

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// The manifests under test, from this module's folder tests/deploy/k8svalidate.
const manifests = "../../../deploy/k8s"

func joinErrors(errs []error) string {
	var b strings.Builder
	for _, err := range errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// What `kubectl apply -k deploy/k8s` sends decodes strictly and validates.
func TestManifestsAreValid(t *testing.T) {
	stream, err := Build(manifests)
	if err != nil {
		t.Fatal(err)
	}
	objects, errs := Decode(stream)
	errs = append(errs, Validate(objects)...)
	if len(errs) > 0 {
		t.Fatalf("%d problems:%s", len(errs), joinErrors(errs))
	}
	var got []string
	for _, o := range objects {
		got = append(got, o.String())
	}
	sort.Strings(got)
	want := []string{
		"ConfigMap/otlp-arrow-config",
		"Deployment/otlp-arrow-exporter",
		"HorizontalPodAutoscaler/otlp-arrow-hpa",
		"PodDisruptionBudget/otlp-arrow-exporter",
		"PodDisruptionBudget/otlp-arrow-receiver",
		"Service/arrow-flight-service",
		"Service/otlp-arrow-receiver",
		"Service/otlp-arrow-service",
		"StatefulSet/otlp-arrow-receiver",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("objects:\n got  %v\n want %v", got, want)
	}
}

// Every manifest file is part of the kustomization, and the kustomization is strict YAML.
func TestKustomizationListsEveryFile(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(manifests, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(text, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
	}
	for _, f := range files {
		base := filepath.Base(f)
		if base != "kustomization.yaml" && !listed[base] {
			t.Errorf("%s is not among the kustomization's resources %v", base, k.Resources)
		}
	}
	if len(k.Resources) != len(files)-1 {
		t.Errorf("resources %v, files %v", k.Resources, files)
	}
}

// Deliberate mistakes, one at a time, in a copy of deploy/k8s: each must be reported.
func TestDeliberateMistakesAreReported(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "gateway.yaml", "  replicas: 3\n", "  replicaCount: 3\n",
			`unknown field "spec.replicaCount"`},
		{"unknown field in a container", "receiver.yaml", "          args: [\"receiver\"]\n",
			"          argv: [\"receiver\"]\n", `unknown field "spec.template.spec.containers[0].argv"`},
		{"wrong type", "gateway.yaml", "  replicas: 3\n", "  replicas: three\n", "spec.replicas"},
		{"wrong type in a probe", "receiver.yaml", "            failureThreshold: 30\n",
			"            failureThreshold: [30]\n", "failureThreshold"},
		{"repeated field", "gateway.yaml", "          imagePullPolicy: IfNotPresent\n",
			"          imagePullPolicy: IfNotPresent\n          imagePullPolicy: Always\n",
			`key "imagePullPolicy" already set in map`},
		{"bad quantity", "gateway.yaml", "              memory: 1Gi\n", "              memory: 1GB\n",
			"quantities must match"},
		{"unknown apiVersion", "gateway.yaml", "apiVersion: autoscaling/v2\n",
			"apiVersion: autoscaling/v3\n", `no kind "HorizontalPodAutoscaler" is registered`},
		{"probe on an undeclared port", "gateway.yaml",
			"              path: /ready\n              port: 8080\n",
			"              path: /ready\n              port: 8081\n",
			"readinessProbe.httpGet.port: 8081 is not a port of the container"},
		{"selector does not match", "gateway.yaml",
			"    matchLabels:\n      app: otlp-arrow-exporter\n  strategy:",
			"    matchLabels:\n      app: otlp-arrow-gateway\n  strategy:",
			"selector does not match template labels"},
		{"mount without volume", "gateway.yaml", "            - name: tmp\n              mountPath: /tmp\n",
			"            - name: scratch\n              mountPath: /tmp\n", `no volume "scratch"`},
		{"Service to an undeclared port", "gateway.yaml", "      targetPort: otlp-http\n",
			"      targetPort: otlp-htp\n", "targetPort: otlp-htp is not a container port"},
		{"HPA to a missing Deployment", "gateway.yaml",
			"    name: otlp-arrow-exporter\n  minReplicas: 3\n",
			"    name: otlp-arrow-gateway\n  minReplicas: 3\n", `no Deployment "otlp-arrow-gateway"`},
		{"missing ConfigMap", "configmap.yaml", "  name: otlp-arrow-config\n",
			"  name: otlp-arrow-configuration\n", `no ConfigMap "otlp-arrow-config"`},
		{"StatefulSet without a headless Service", "receiver.yaml",
			"  serviceName: otlp-arrow-receiver\n", "  serviceName: arrow-flight-service\n",
			"is not headless"},
		{"invalid label value", "configmap.yaml", "    app.kubernetes.io/part-of: otlp-arrow\n",
			"    app.kubernetes.io/part-of: otlp arrow\n", "metadata.labels"},
		{"request above limit", "gateway.yaml", "              cpu: 500m\n", "              cpu: \"3\"\n",
			"cpu request 3 above its limit 2"},
		{"HPA without requests", "gateway.yaml",
			"            requests:\n              cpu: 500m\n              memory: 512Mi\n",
			"            requests: {}\n", `has no cpu request`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			entries, err := os.ReadDir(manifests)
			if err != nil {
				t.Fatal(err)
			}
			var raw strings.Builder // the files as `kubectl apply -f deploy/k8s` reads them
			for _, e := range entries {
				text, err := os.ReadFile(filepath.Join(manifests, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				s := string(text)
				if e.Name() == c.file {
					if n := strings.Count(s, c.old); n != 1 {
						t.Fatalf("%s holds %q %d times, not once: update the test", c.file, c.old, n)
					}
					s = strings.Replace(s, c.old, c.new, 1)
				}
				if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
				if e.Name() != "kustomization.yaml" {
					raw.WriteString("---\n" + s)
				}
			}
			// Decoded straight from the files: the error names the mistake.
			errs := Check([]byte(raw.String()))
			found := false
			for _, err := range errs {
				found = found || strings.Contains(err.Error(), c.want)
			}
			if !found {
				t.Errorf("files: want an error containing %q, got %d:%s", c.want, len(errs),
					joinErrors(append(errs, errors.New("(end)"))))
			}
			// Through kustomize, as `kubectl apply -k` sends them: reported too (kustomize
			// itself refuses some, such as a repeated key).
			if stream, err := Build(dir); err != nil {
				errs = []error{err}
			} else {
				errs = Check(stream)
			}
			if len(errs) == 0 {
				t.Errorf("kustomize build: %s not reported", c.name)
			}
		})
	}
}

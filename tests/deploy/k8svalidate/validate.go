// SPDX-License-Identifier: Apache-2.0

// Package k8svalidate checks the Kubernetes manifests of deploy/k8s without a cluster: it
// renders them with kustomize (the library kubectl apply -k embeds), decodes every document
// strictly into the typed objects of k8s.io/api (an unknown field, a repeated field, a value of
// the wrong type or an unknown kind is an error, as with kubectl apply --validate=strict), runs
// the API machinery's own validation of names, labels, annotations and selectors, and checks what
// the API server or the controllers would otherwise only find out in a cluster: a selector that
// does not match its pod template, a probe or a Service aimed at a port no container declares, a
// volume mount without a volume, a reference to a ConfigMap, Service or Deployment that is not in
// the set, an HPA metric without a resource request to measure it against.
package k8svalidate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Build renders a kustomization directory as `kubectl kustomize DIR` does.
func Build(dir string) ([]byte, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return resources.AsYaml()
}

// Object is one decoded document.
type Object struct {
	Kind string
	Name string
	Obj  runtime.Object
}

func (o Object) String() string { return o.Kind + "/" + o.Name }

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// Decode splits a YAML stream into documents and decodes each strictly. It returns the objects
// and one error per document that does not decode.
func Decode(stream []byte) ([]Object, []error) {
	serializer := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objects []Object
	var errs []error
	for index := 0; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", index, err))
			break
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := serializer.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", index, describe(doc), err))
			// A strict decoding error (unknown or repeated field) still decodes the rest:
			// keep the object for the checks across objects.
			if !runtime.IsStrictDecodingError(err) || obj == nil || gvk == nil {
				continue
			}
		}
		accessor, ok := obj.(metav1.Object)
		if !ok {
			errs = append(errs, fmt.Errorf("document %d: %s has no metadata", index, gvk))
			continue
		}
		objects = append(objects, Object{Kind: gvk.Kind, Name: accessor.GetName(), Obj: obj})
	}
	return objects, errs
}

// Validate checks the objects one by one and against each other.
func Validate(objects []Object) []error {
	v := &validator{objects: objects}
	for _, o := range objects {
		v.object(o)
	}
	return v.errs
}

// Check decodes and validates a stream.
func Check(stream []byte) []error {
	objects, errs := Decode(stream)
	return append(errs, Validate(objects)...)
}

type validator struct {
	objects []Object
	errs    []error
}

func (v *validator) add(o Object, list field.ErrorList) {
	for _, e := range list {
		v.errs = append(v.errs, fmt.Errorf("%s: %s", o, e.Error()))
	}
}

func (v *validator) addf(o Object, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", o, fmt.Sprintf(format, args...)))
}

func (v *validator) find(kind, name string) (Object, bool) {
	for _, o := range v.objects {
		if o.Kind == kind && o.Name == name {
			return o, true
		}
	}
	return Object{}, false
}

func (v *validator) object(o Object) {
	meta := o.Obj.(metav1.Object)
	nameFn := apivalidation.NameIsDNSSubdomain
	if o.Kind == "Service" {
		nameFn = apivalidation.NameIsDNS1035Label
	}
	// Validated as if applied to a namespace (kubectl apply -n NS): these objects carry none.
	objMeta := metav1.ObjectMeta{
		Name: meta.GetName(), Namespace: "default", Labels: meta.GetLabels(),
		Annotations: meta.GetAnnotations(),
	}
	if meta.GetNamespace() != "" {
		objMeta.Namespace = meta.GetNamespace()
	}
	v.add(o, apivalidation.ValidateObjectMeta(&objMeta, true, nameFn, field.NewPath("metadata")))

	switch obj := o.Obj.(type) {
	case *corev1.ConfigMap:
		for key := range obj.Data {
			for _, msg := range validation.IsConfigMapKey(key) {
				v.addf(o, "data[%s]: %s", key, msg)
			}
		}
	case *appsv1.Deployment:
		v.workload(o, obj.Spec.Selector, &obj.Spec.Template, nil, field.NewPath("spec"))
		if obj.Spec.Replicas != nil && *obj.Spec.Replicas < 0 {
			v.addf(o, "spec.replicas: must not be negative")
		}
	case *appsv1.StatefulSet:
		v.workload(o, obj.Spec.Selector, &obj.Spec.Template, obj.Spec.VolumeClaimTemplates,
			field.NewPath("spec"))
		service, found := v.find("Service", obj.Spec.ServiceName)
		switch {
		case obj.Spec.ServiceName == "":
			v.addf(o, "spec.serviceName: empty; a StatefulSet needs its governing Service")
		case !found:
			v.addf(o, "spec.serviceName: no Service %q in the manifests", obj.Spec.ServiceName)
		case service.Obj.(*corev1.Service).Spec.ClusterIP != corev1.ClusterIPNone:
			v.addf(o, "spec.serviceName: Service %q is not headless (clusterIP: None)",
				obj.Spec.ServiceName)
		}
		for i, claim := range obj.Spec.VolumeClaimTemplates {
			if _, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
				v.addf(o, "spec.volumeClaimTemplates[%d]: no storage request", i)
			}
			if len(claim.Spec.AccessModes) == 0 {
				v.addf(o, "spec.volumeClaimTemplates[%d]: no accessModes", i)
			}
		}
	case *corev1.Service:
		v.service(o, obj)
	case *autoscalingv2.HorizontalPodAutoscaler:
		v.hpa(o, obj)
	case *policyv1.PodDisruptionBudget:
		path := field.NewPath("spec", "selector")
		v.add(o, metav1validation.ValidateLabelSelector(obj.Spec.Selector,
			metav1validation.LabelSelectorValidationOptions{}, path))
		if (obj.Spec.MinAvailable == nil) == (obj.Spec.MaxUnavailable == nil) {
			v.addf(o, "spec: exactly one of minAvailable and maxUnavailable")
		}
		if len(v.podsSelectedBy(obj.Spec.Selector)) == 0 {
			v.addf(o, "spec.selector: selects no pod template in the manifests")
		}
	default:
		v.addf(o, "kind %s: not expected in deploy/k8s (extend k8svalidate)", o.Kind)
	}
}

// A workload's pod template, as the API server and the kubelet would judge it.
func (v *validator) workload(o Object, selector *metav1.LabelSelector,
	template *corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim, path *field.Path) {
	if selector == nil {
		v.addf(o, "spec.selector: required")
		return
	}
	v.add(o, metav1validation.ValidateLabelSelector(selector,
		metav1validation.LabelSelectorValidationOptions{}, path.Child("selector")))
	v.add(o, metav1validation.ValidateLabels(template.Labels,
		path.Child("template", "metadata", "labels")))
	v.add(o, apivalidation.ValidateAnnotations(template.Annotations,
		path.Child("template", "metadata", "annotations")))
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		v.addf(o, "spec.selector: %v", err)
	} else if sel.Empty() || !sel.Matches(labels.Set(template.Labels)) {
		v.addf(o, "spec.template.metadata.labels: selector does not match template labels")
	}

	spec := &template.Spec
	volumes := map[string]bool{}
	for i, vol := range spec.Volumes {
		for _, msg := range validation.IsDNS1123Label(vol.Name) {
			v.addf(o, "spec.template.spec.volumes[%d].name: %s", i, msg)
		}
		if volumes[vol.Name] {
			v.addf(o, "spec.template.spec.volumes[%d]: duplicate name %q", i, vol.Name)
		}
		volumes[vol.Name] = true
		if vol.ConfigMap != nil {
			cm, found := v.find("ConfigMap", vol.ConfigMap.Name)
			if !found {
				v.addf(o, "volume %q: no ConfigMap %q in the manifests", vol.Name, vol.ConfigMap.Name)
			} else {
				for _, item := range vol.ConfigMap.Items {
					if _, ok := cm.Obj.(*corev1.ConfigMap).Data[item.Key]; !ok {
						v.addf(o, "volume %q: ConfigMap %q has no key %q", vol.Name,
							vol.ConfigMap.Name, item.Key)
					}
				}
			}
		}
	}
	for _, claim := range claims {
		if volumes[claim.Name] {
			v.addf(o, "volumeClaimTemplate %q: also a volume of the pod", claim.Name)
		}
		volumes[claim.Name] = true
	}
	if spec.SecurityContext == nil {
		v.addf(o, "spec.template.spec.securityContext: missing")
	}

	containers := map[string]bool{}
	for i, c := range spec.Containers {
		cpath := path.Child("template", "spec", "containers").Index(i)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			v.addf(o, "%s.name: %s", cpath, msg)
		}
		if containers[c.Name] {
			v.addf(o, "%s.name: duplicate %q", cpath, c.Name)
		}
		containers[c.Name] = true
		if c.Image == "" {
			v.addf(o, "%s.image: required", cpath)
		}
		v.container(o, &c, volumes, cpath)
	}
	if len(spec.Containers) == 0 {
		v.addf(o, "spec.template.spec.containers: none")
	}
}

func (v *validator) container(o Object, c *corev1.Container, volumes map[string]bool,
	path *field.Path) {
	ports := map[string]int32{}
	numbers := map[int32]bool{}
	for i, p := range c.Ports {
		for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
			v.addf(o, "%s: %s", path.Child("ports").Index(i), msg)
		}
		if numbers[p.ContainerPort] {
			v.addf(o, "%s: duplicate containerPort %d", path.Child("ports").Index(i), p.ContainerPort)
		}
		numbers[p.ContainerPort] = true
		if p.Name != "" {
			for _, msg := range validation.IsValidPortName(p.Name) {
				v.addf(o, "%s.name: %s", path.Child("ports").Index(i), msg)
			}
			if _, dup := ports[p.Name]; dup {
				v.addf(o, "%s.name: duplicate %q", path.Child("ports").Index(i), p.Name)
			}
			ports[p.Name] = p.ContainerPort
		}
	}
	probes := map[string]*corev1.Probe{
		"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe,
		"startupProbe": c.StartupProbe,
	}
	for name, probe := range probes {
		if probe == nil {
			continue
		}
		ppath := path.Child(name)
		if probe.HTTPGet == nil {
			v.addf(o, "%s: expected an httpGet probe", ppath)
			continue
		}
		if !strings.HasPrefix(probe.HTTPGet.Path, "/") {
			v.addf(o, "%s.httpGet.path: must start with /", ppath)
		}
		if _, ok := resolvePort(probe.HTTPGet.Port, ports, numbers); !ok {
			v.addf(o, "%s.httpGet.port: %s is not a port of the container", ppath,
				probe.HTTPGet.Port.String())
		}
	}
	for i, env := range c.Env {
		for _, msg := range validation.IsEnvVarName(env.Name) {
			v.addf(o, "%s.name: %s", path.Child("env").Index(i), msg)
		}
	}
	mounts := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mpath := path.Child("volumeMounts").Index(i)
		if !volumes[m.Name] {
			v.addf(o, "%s.name: no volume %q", mpath, m.Name)
		}
		if !strings.HasPrefix(m.MountPath, "/") {
			v.addf(o, "%s.mountPath: must be absolute", mpath)
		}
		if mounts[m.MountPath] {
			v.addf(o, "%s.mountPath: %q mounted twice", mpath, m.MountPath)
		}
		mounts[m.MountPath] = true
	}
	for resource, limit := range c.Resources.Limits {
		if request, ok := c.Resources.Requests[resource]; ok && request.Cmp(limit) > 0 {
			v.addf(o, "%s.resources: %s request %s above its limit %s", path, resource,
				request.String(), limit.String())
		}
	}
	if c.SecurityContext == nil {
		v.addf(o, "%s.securityContext: missing", path)
	}
}

func resolvePort(port intstr.IntOrString, names map[string]int32, numbers map[int32]bool) (int32, bool) {
	if port.Type == intstr.String {
		n, ok := names[port.StrVal]
		return n, ok
	}
	return port.IntVal, numbers[port.IntVal]
}

// The pod templates (and their owners) a selector picks.
func (v *validator) podsSelectedBy(selector *metav1.LabelSelector) []Object {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil || sel.Empty() {
		return nil
	}
	var found []Object
	for _, o := range v.objects {
		if template := podTemplate(o); template != nil && sel.Matches(labels.Set(template.Labels)) {
			found = append(found, o)
		}
	}
	return found
}

func podTemplate(o Object) *corev1.PodTemplateSpec {
	switch obj := o.Obj.(type) {
	case *appsv1.Deployment:
		return &obj.Spec.Template
	case *appsv1.StatefulSet:
		return &obj.Spec.Template
	}
	return nil
}

func (v *validator) service(o Object, svc *corev1.Service) {
	if len(svc.Spec.Selector) == 0 {
		v.addf(o, "spec.selector: empty")
		return
	}
	for _, msg := range metav1validation.ValidateLabels(svc.Spec.Selector, field.NewPath("spec", "selector")) {
		v.addf(o, "%s", msg.Error())
	}
	pods := v.podsSelectedBy(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
	if len(pods) == 0 {
		v.addf(o, "spec.selector: selects no pod template in the manifests")
	}
	names := map[string]bool{}
	for i, p := range svc.Spec.Ports {
		ppath := field.NewPath("spec", "ports").Index(i)
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			v.addf(o, "%s.port: %s", ppath, msg)
		}
		if len(svc.Spec.Ports) > 1 && p.Name == "" {
			v.addf(o, "%s.name: required when a Service has several ports", ppath)
		}
		if names[p.Name] {
			v.addf(o, "%s.name: duplicate %q", ppath, p.Name)
		}
		names[p.Name] = true
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, pod := range pods {
			found := false
			for _, c := range podTemplate(pod).Spec.Containers {
				for _, cp := range c.Ports {
					if (target.Type == intstr.String && cp.Name == target.StrVal) ||
						(target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
						found = true
					}
				}
			}
			if !found {
				v.addf(o, "%s.targetPort: %s is not a container port of %s", ppath, target.String(), pod)
			}
		}
	}
}

func (v *validator) hpa(o Object, hpa *autoscalingv2.HorizontalPodAutoscaler) {
	ref := hpa.Spec.ScaleTargetRef
	target, found := v.find(ref.Kind, ref.Name)
	if !found {
		v.addf(o, "spec.scaleTargetRef: no %s %q in the manifests", ref.Kind, ref.Name)
		return
	}
	if ref.APIVersion != "apps/v1" {
		v.addf(o, "spec.scaleTargetRef.apiVersion: %q, expected apps/v1", ref.APIVersion)
	}
	if hpa.Spec.MinReplicas != nil && *hpa.Spec.MinReplicas > hpa.Spec.MaxReplicas {
		v.addf(o, "spec: minReplicas above maxReplicas")
	}
	template := podTemplate(target)
	for i, m := range hpa.Spec.Metrics {
		if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil {
			continue
		}
		if m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
			// Utilization is relative to the containers' requests: without one the HPA
			// reports "missing request for <resource>" and does not scale.
			for _, c := range template.Spec.Containers {
				if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
					v.addf(o, "spec.metrics[%d]: container %q of %s has no %s request", i, c.Name,
						target, m.Resource.Name)
				}
			}
		}
	}
}

func describe(doc []byte) string {
	var kind, name string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "kind:") && kind == "" {
			kind = strings.TrimSpace(strings.TrimPrefix(line, "kind:"))
		}
		if strings.HasPrefix(line, "  name:") && name == "" {
			name = strings.TrimSpace(strings.TrimPrefix(line, "  name:"))
		}
	}
	return kind + "/" + name
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && trimmed[0] != '#' {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

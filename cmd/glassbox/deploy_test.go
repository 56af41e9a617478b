package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"glassbox"
	"glassbox/models"
	"glassbox/server"
)

// repoRoot is the repository's top folder, seen from cmd/glassbox.
const repoRoot = "../.."

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// storeEnv are the environment variables glassbox reads that are not flags.
var storeEnv = map[string]bool{"GLASSBOX_HOME": true, "HF_TOKEN": true, "HF_ENDPOINT": true}

// serveEnvNames returns the environment variable of every flag of serve.
func serveEnvNames() map[string]string {
	out := map[string]string{}
	cmd := newServeCmd()
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !envExempt[f.Name] {
			out[envName(f.Name)] = f.Name
		}
	})
	return out
}

// image is what the tests read from the Dockerfile.
type image struct {
	build, final dockerStage
	binary       string // where the final stage has glassbox
	user         int64
	port         int
	env          map[string]string
	entrypoint   []string
}

func readDockerfile(t *testing.T) image {
	t.Helper()
	stages, err := parseDockerfile(readRepoFile(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) != 2 {
		t.Fatalf("Dockerfile: %d stages, want 2 (build, then the image)", len(stages))
	}
	img := image{build: stages[0], final: stages[1]}
	if img.build.name == "" {
		t.Fatal("Dockerfile: the build stage has no name (FROM … AS build)")
	}
	entry := img.final.all("ENTRYPOINT")
	if len(entry) != 1 {
		t.Fatalf("Dockerfile: %d ENTRYPOINTs in the final stage, want 1", len(entry))
	}
	if img.entrypoint, err = execForm(entry[0]); err != nil {
		t.Fatal(err)
	}
	img.binary = img.entrypoint[0]
	users := img.final.all("USER")
	if len(users) != 1 {
		t.Fatalf("Dockerfile: %d USER instructions in the final stage, want 1", len(users))
	}
	uid, _, _ := strings.Cut(users[0].args, ":")
	if img.user, err = strconv.ParseInt(uid, 10, 64); err != nil {
		t.Fatalf("Dockerfile: USER %s: expected a numeric UID (Kubernetes' runAsNonRoot cannot check a name)", users[0].args)
	}
	exposes := img.final.all("EXPOSE")
	if len(exposes) != 1 {
		t.Fatalf("Dockerfile: %d EXPOSE, want 1", len(exposes))
	}
	if img.port, err = strconv.Atoi(strings.TrimSuffix(exposes[0].args, "/tcp")); err != nil {
		t.Fatalf("Dockerfile: EXPOSE %s: %v", exposes[0].args, err)
	}
	if img.env, err = img.final.env(); err != nil {
		t.Fatal(err)
	}
	return img
}

// goBuildRun is the RUN of the build stage that builds glassbox, and the
// path it writes the binary to.
func goBuildRun(t *testing.T, st dockerStage) (dockerInstr, string) {
	t.Helper()
	for _, in := range st.all("RUN") {
		if strings.Contains(in.args, "go build") {
			m := regexp.MustCompile(`-o (\S+) \./cmd/glassbox$`).FindStringSubmatch(in.args)
			if m == nil {
				t.Fatalf("Dockerfile line %d: the go build does not end with -o PATH ./cmd/glassbox: %s", in.line, in.args)
			}
			return in, m[1]
		}
	}
	t.Fatal("Dockerfile: no RUN … go build in the build stage")
	return dockerInstr{}, ""
}

// TestDockerfile checks the committed Dockerfile: a Go build stage on the
// go.mod's Go release that builds a static binary without cgo, and a
// distroless (or scratch) image that runs glassbox serve as a numeric
// non-root user, listening on the port it exposes, with the store in a folder
// that user owns, and no HEALTHCHECK (there is no shell to run it).
func TestDockerfile(t *testing.T) {
	img := readDockerfile(t)

	gomod := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	tag := regexp.MustCompile(`^golang:(\d+)\.(\d+)`).FindStringSubmatch(img.build.base)
	if gomod == nil || tag == nil {
		t.Fatalf("build stage FROM %s: expected golang:MAJOR.MINOR (go.mod: %v)", img.build.base, gomod)
	}
	if tag[1] != gomod[1] || tag[2] != gomod[2] {
		t.Errorf("build stage FROM %s, but go.mod says go %s.%s", img.build.base, gomod[1], gomod[2])
	}
	run, out := goBuildRun(t, img.build)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath"} {
		if !strings.Contains(run.args, want) {
			t.Errorf("Dockerfile line %d: the go build lacks %s", run.line, want)
		}
	}
	if strings.Contains(img.final.base, "$") || !regexp.MustCompile(`^(gcr\.io/distroless/static(-debian\d+)?(:[\w.-]+)?|scratch)$`).MatchString(img.final.base) {
		t.Errorf("final stage FROM %s: expected gcr.io/distroless/static… or scratch", img.final.base)
	}
	var copied bool
	for _, c := range img.final.all("COPY") {
		f := strings.Fields(c.args)
		if c.flags["from"] == img.build.name && len(f) == 2 && f[0] == out && f[1] == img.binary {
			copied = true
		}
	}
	if !copied {
		t.Errorf("the final stage does not COPY --from=%s %s %s (the ENTRYPOINT's binary)", img.build.name, out, img.binary)
	}
	if len(img.entrypoint) != 2 || img.entrypoint[1] != "serve" {
		t.Errorf("ENTRYPOINT %q, want [%q, \"serve\"]", img.entrypoint, img.binary)
	}
	if img.user <= 0 {
		t.Errorf("USER %d: the server must not run as root", img.user)
	}
	if h := img.final.all("HEALTHCHECK"); len(h) > 0 && h[0].args != "NONE" {
		t.Errorf("HEALTHCHECK %s: the distroless image has no shell or curl to run it; probe /livez and /readyz from the orchestrator", h[0].args)
	}
	_, port, err := net.SplitHostPort(img.env["GLASSBOX_ADDR"])
	if err != nil || port != strconv.Itoa(img.port) {
		t.Errorf("ENV GLASSBOX_ADDR=%q, but EXPOSE %d", img.env["GLASSBOX_ADDR"], img.port)
	}
	if host, _, _ := net.SplitHostPort(img.env["GLASSBOX_ADDR"]); server.IsLoopback(host) {
		t.Errorf("ENV GLASSBOX_ADDR=%q: a container must listen beyond loopback", img.env["GLASSBOX_ADDR"])
	}
	names := serveEnvNames()
	for k := range img.env {
		if _, ok := names[k]; !ok && !storeEnv[k] {
			t.Errorf("ENV %s is neither a flag's variable of glassbox serve nor one glassbox reads", k)
		}
	}
	home := img.env["GLASSBOX_HOME"]
	var owned bool
	for _, c := range img.final.all("COPY") {
		f := strings.Fields(c.args)
		if len(f) == 2 && f[1] == home && c.flags["chown"] == fmt.Sprintf("%d:%d", img.user, img.user) {
			owned = true
		}
	}
	if home == "" || !owned {
		t.Errorf("GLASSBOX_HOME %q is not a folder the image gives to its user %d", home, img.user)
	}
}

// TestDockerBuildContext builds glassbox as the Dockerfile's build stage
// does, with no Docker daemon: from a copy of the build context
// (.dockerignore applied) it runs the stage's go build line with /out in a
// temporary folder, then checks that the binary is static — no ELF
// interpreter, no shared library — and runs.
func TestDockerBuildContext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary: skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is a Linux one")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the RUN line")
	}
	img := readDockerfile(t)
	run, out := goBuildRun(t, img.build)
	ignore, err := parseDockerIgnore(readRepoFile(t, ".dockerignore"))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}

	ctxDir := t.TempDir()
	var files, left int
	root, _ := filepath.Abs(repoRoot)
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if ignore.excluded(rel) {
			left++
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(ctxDir, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		files++
		return copyFile(p, filepath.Join(ctxDir, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{".git", "docs", "deploy", "Dockerfile", "server/testdata"} {
		if _, err := os.Stat(filepath.Join(ctxDir, gone)); err == nil {
			t.Errorf("the build context has %s", gone)
		}
	}
	t.Logf("build context: %d files (%d paths left out)", files, left)

	outDir := t.TempDir()
	script := strings.ReplaceAll(run.args, "/out/", outDir+"/")
	cmd := exec.Command(sh, "-c", script)
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("RUN %s: %v\n%s", run.args, err, stderr.String())
	}
	bin := filepath.Join(outDir, strings.TrimPrefix(out, "/out/"))
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the build made no ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked (cgo?), distroless/static cannot run it")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	st, _ := os.Stat(bin)
	t.Logf("static binary of %.1f MB built in %s", float64(st.Size())/(1<<20), time.Since(t0).Round(time.Second))
	// it runs with the image's environment and nothing else
	v := exec.Command(bin, "version")
	v.Env = []string{"GLASSBOX_HOME=" + t.TempDir(), "GLASSBOX_ADDR=" + img.env["GLASSBOX_ADDR"]}
	if b, err := v.CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "glassbox") {
		t.Errorf("glassbox version: %v\n%s", err, b)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// manifests are the Kubernetes objects of deploy/kubernetes.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
}

// kustomization is the part of kustomization.yaml the manifests use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// readManifests reads every object of the kustomization strictly into the
// Kubernetes API types: an unknown or misplaced field, a wrong type or an
// unknown kind is an error.
func readManifests(t *testing.T) manifests {
	t.Helper()
	dir := filepath.Join(repoRoot, "deploy", "kubernetes")
	var k kustomization
	if err := yaml.UnmarshalStrict([]byte(readRepoFile(t, "deploy/kubernetes/kustomization.yaml")), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
	}
	all, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range all {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(k.Resources, b) {
			t.Errorf("%s is not among the kustomization's resources", b)
		}
	}
	var m manifests
	for _, res := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, res))
		if err != nil {
			t.Fatalf("kustomization resource %s: %v", res, err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			where := fmt.Sprintf("%s (document %d)", res, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				m.deployment = &appsv1.Deployment{}
				obj = m.deployment
			case "v1 Service":
				m.service = &corev1.Service{}
				obj = m.service
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				obj = m.pdb
			case "autoscaling/v2 HorizontalPodAutoscaler":
				m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
				obj = m.hpa
			default:
				t.Fatalf("%s: unexpected object %s %s", where, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.pdb == nil || m.hpa == nil {
		t.Fatalf("the manifests lack an object: deployment %v, service %v, pdb %v, hpa %v", m.deployment != nil, m.service != nil, m.pdb != nil, m.hpa != nil)
	}
	return m
}

// TestStrictManifests: the strict reading refuses what the API server would.
func TestStrictManifests(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n",                                              // misspelt
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: two\n",                                           // wrong type
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - nme: x\n", // nested
	} {
		if err := yaml.UnmarshalStrict([]byte(doc), &appsv1.Deployment{}); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}
}

// envValue is the value a container would see for a variable of the
// manifest: its value, or what its reference resolves to.
func envValue(t *testing.T, c corev1.Container, e corev1.EnvVar) string {
	t.Helper()
	switch {
	case e.ValueFrom == nil:
		return e.Value
	case e.ValueFrom.ResourceFieldRef != nil:
		ref := e.ValueFrom.ResourceFieldRef
		q, ok := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))]
		if !strings.HasPrefix(ref.Resource, "limits.") || !ok {
			t.Fatalf("%s: resourceFieldRef %s: the container has no such limit", e.Name, ref.Resource)
		}
		div := ref.Divisor.Value()
		if div == 0 {
			div = 1
		}
		return strconv.FormatInt((q.MilliValue()+1000*div-1)/(1000*div), 10) // rounded up, as the kubelet does
	case e.ValueFrom.SecretKeyRef != nil:
		return "a-secret-key"
	}
	t.Fatalf("%s: an unexpected valueFrom", e.Name)
	return ""
}

// TestKubernetesManifests validates deploy/kubernetes offline: every object
// read strictly into the Kubernetes API types, and checked against the
// server, the serve command and the Dockerfile — the probes reach real
// routes of the server (and answer 200 on a running one), ports agree, every
// environment variable is a serve flag's whose value serve accepts, the
// grace period outlasts the drain, the pod runs as the image's non-root user
// with a read-only root filesystem and no capabilities, the store is on a
// writable volume, and the Service, PodDisruptionBudget and autoscaler
// select the Deployment's pods and read a metric the server exports.
func TestKubernetesManifests(t *testing.T) {
	m := readManifests(t)
	img := readDockerfile(t)
	d := m.deployment
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	podLabels := d.Spec.Template.Labels

	// selectors
	sel, err := metav1.LabelSelectorAsMap(d.Spec.Selector)
	if err != nil || len(sel) == 0 {
		t.Fatalf("deployment selector: %v", err)
	}
	for name, s := range map[string]map[string]string{"deployment": sel, "service": m.service.Spec.Selector} {
		for k, v := range s {
			if podLabels[k] != v {
				t.Errorf("the %s selects %s=%s, which the pods do not carry", name, k, v)
			}
		}
	}
	pdbSel, err := metav1.LabelSelectorAsMap(m.pdb.Spec.Selector)
	if err != nil || len(pdbSel) == 0 {
		t.Fatalf("pdb selector: %v", err)
	}
	for k, v := range pdbSel {
		if podLabels[k] != v {
			t.Errorf("the PodDisruptionBudget selects %s=%s, which the pods do not carry", k, v)
		}
	}
	if (m.pdb.Spec.MaxUnavailable == nil) == (m.pdb.Spec.MinAvailable == nil) {
		t.Error("the PodDisruptionBudget needs exactly one of maxUnavailable and minAvailable")
	}

	// the image and the command
	images := map[string]bool{}
	for _, ct := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		images[ct.Image] = true
	}
	if len(images) != 1 {
		t.Errorf("the containers run different images %v: the init container pulls with the server's own binary", images)
	}
	if len(c.Command) != 0 || len(c.Args) != 0 {
		t.Errorf("the server container overrides the image's ENTRYPOINT %q: command %q args %q", img.entrypoint, c.Command, c.Args)
	}

	// environment: every variable a flag's or the store's, and serve accepts the values
	names := serveEnvNames()
	env := map[string]string{}
	for _, e := range c.Env {
		if _, ok := names[e.Name]; !ok && !storeEnv[e.Name] {
			t.Errorf("env %s is not the variable of a glassbox serve flag (nor GLASSBOX_HOME, HF_TOKEN, HF_ENDPOINT)", e.Name)
		}
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s twice", e.Name)
		}
		env[e.Name] = envValue(t, c, e)
	}
	o := &serveOptions{}
	cmd := serveCmd(o)
	set, err := applyEnv(cmd.Flags(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("serve refuses the manifest's environment: %v", err)
	}
	if _, err := o.validate(); err != nil {
		t.Fatalf("serve refuses the manifest's environment: %v", fromEnv(err, set))
	}
	if o.apiKey == "" {
		t.Error("no GLASSBOX_API_KEY: a server beyond loopback without a key answers anyone, and only IP-address Host headers")
	}

	// ports
	_, addrPort, err := net.SplitHostPort(o.addr)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(o.addr); server.IsLoopback(host) {
		t.Errorf("GLASSBOX_ADDR %s: a pod must listen beyond loopback", o.addr)
	}
	if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != addrPort || int(c.Ports[0].ContainerPort) != img.port {
		t.Fatalf("container ports %+v: want the one of GLASSBOX_ADDR (%s) and the image's EXPOSE (%d)", c.Ports, addrPort, img.port)
	}
	portName := c.Ports[0].Name
	namedPort := func(what string, p string) {
		if p != portName && p != addrPort {
			t.Errorf("%s targets port %q: the container's port is %s (%s)", what, p, portName, addrPort)
		}
	}
	for _, sp := range m.service.Spec.Ports {
		namedPort("the service", sp.TargetPort.String())
	}

	// probes: real routes of the server, on its port
	routes := map[string]bool{server.LivePath: true, server.ReadyPath: true, server.HealthPath: true}
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	for name, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("no HTTP %s probe", name)
		}
		if !routes[p.HTTPGet.Path] {
			t.Errorf("the %s probe GETs %s, not a probe route of the server", name, p.HTTPGet.Path)
		}
		namedPort("the "+name+" probe", p.HTTPGet.Port.String())
	}
	if p := c.LivenessProbe.HTTPGet.Path; p != server.LivePath {
		t.Errorf("the liveness probe GETs %s: only %s stays 200 while the model loads and while the server drains (a pod would be killed mid-drain)", p, server.LivePath)
	}
	if p := c.ReadinessProbe.HTTPGet.Path; p == server.LivePath {
		t.Errorf("the readiness probe GETs %s, which is 200 while loading and draining", p)
	}
	// ... and a running server answers them with the manifest's key configured
	mod, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Context: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "m", Model: mod}}, APIKey: o.apiKey, PublicMetrics: o.publicMetrics,
		Access: server.Access{ListenAddr: o.addr}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for name, p := range probes {
		if st, body := probe(t, hs.URL+p.HTTPGet.Path); st != 200 {
			t.Errorf("the %s probe's %s on a running server: %d %s", name, p.HTTPGet.Path, st, body)
		}
	}

	// graceful shutdown: the kubelet's SIGKILL must come after the drain
	preStop := int64(0)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if s := c.Lifecycle.PreStop.Sleep; s != nil {
			preStop = s.Seconds
		} else {
			t.Error("preStop is not a sleep: the distroless image has no shell for an exec hook")
		}
	}
	need := time.Duration(preStop)*time.Second + o.grace + finishTime
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %v: must exceed preStop %ds + GLASSBOX_SHUTDOWN_GRACE %s + %s for the last events = %s",
			pod.TerminationGracePeriodSeconds, preStop, o.grace, finishTime, need)
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("enableServiceLinks is not false: a Service named glassbox injects GLASSBOX_PORT and friends")
	}

	// security
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != img.user {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and runAsUser %d (the image's USER)", psc, img.user)
	}
	home := env["GLASSBOX_HOME"]
	if home == "" {
		home = img.env["GLASSBOX_HOME"]
	}
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
	}
	for _, ct := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := ct.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL", ct.Name, sc)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := ct.Resources.Requests[r]; !ok {
				t.Errorf("container %s: no %s request", ct.Name, r)
			}
			if _, ok := ct.Resources.Limits[r]; !ok {
				t.Errorf("container %s: no %s limit", ct.Name, r)
			}
		}
		writable := false
		for _, vm := range ct.VolumeMounts {
			if !volumes[vm.Name] {
				t.Errorf("container %s mounts the undeclared volume %s", ct.Name, vm.Name)
			}
			if !vm.ReadOnly && (home == vm.MountPath || strings.HasPrefix(home, strings.TrimSuffix(vm.MountPath, "/")+"/")) {
				writable = true
			}
		}
		if !writable {
			t.Errorf("container %s: the store GLASSBOX_HOME=%s is on no writable volume (the root filesystem is read-only)", ct.Name, home)
		}
	}

	// the init container pulls the served model with the image's binary
	if len(pod.InitContainers) > 0 {
		ic := pod.InitContainers[0]
		if len(ic.Command) < 3 || ic.Command[0] != img.binary || ic.Command[1] != "pull" || ic.Command[2] != "$(GLASSBOX_MODEL)" {
			t.Errorf("init container command %q: want [%s pull $(GLASSBOX_MODEL)]", ic.Command, img.binary)
		}
		if sub, _, err := newRootCmd().Find([]string{"pull"}); err != nil || sub.Name() != "pull" {
			t.Errorf("glassbox has no pull command: %v", err)
		}
		ienv := map[string]string{}
		for _, e := range ic.Env {
			ienv[e.Name] = envValue(t, ic, e)
		}
		for _, k := range []string{"GLASSBOX_MODEL", "GLASSBOX_HOME"} {
			if ienv[k] != env[k] || ienv[k] == "" {
				t.Errorf("%s: the init container has %q, the server %q", k, ienv[k], env[k])
			}
		}
	}

	// the autoscaler scales the Deployment on metrics the server exports
	ref := m.hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("the autoscaler targets %+v, not the Deployment %s", ref, d.Name)
	}
	if m.hpa.Spec.MinReplicas == nil || *m.hpa.Spec.MinReplicas < 2 || m.hpa.Spec.MaxReplicas < *m.hpa.Spec.MinReplicas {
		t.Errorf("autoscaler replicas %v–%d: want at least 2, so that the PodDisruptionBudget lets a node drain", m.hpa.Spec.MinReplicas, m.hpa.Spec.MaxReplicas)
	}
	_, _, metricsText := getKey(t, hs.URL+"/metrics", o.apiKey)
	var pods int
	for _, ms := range m.hpa.Spec.Metrics {
		if ms.Type == autoscalingv2.PodsMetricSourceType {
			pods++
			if name := ms.Pods.Metric.Name; !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `[{ ]`).MatchString(metricsText) {
				t.Errorf("the autoscaler reads %s, which /metrics does not export", name)
			}
		}
	}
	if pods == 0 {
		t.Error("the autoscaler has no Pods metric (the queue)")
	}
}

// getKey GETs url with an API key and returns the status, the content type and the body.
func getKey(t *testing.T, url, key string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// probe GETs a path and returns its status and body.
func probe(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDeployDoc keeps docs/deploy.md true to the code: its table of
// variables lists every serve flag's, and every metric it names is one a
// fresh server exports.
func TestDeployDoc(t *testing.T) {
	doc := readRepoFile(t, "docs/deploy.md")
	for env, flag := range serveEnvNames() {
		if !regexp.MustCompile("(?m)^\\| `" + env + "` \\| `(-., )?--" + regexp.QuoteMeta(flag) + "`").MatchString(doc) {
			t.Errorf("docs/deploy.md: no table row for %s (--%s)", env, flag)
		}
	}
	// as glassbox serve: the slots draw from a KV pool (no budget)
	pool, err := glassbox.NewKVPool(0)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Context: 64, Threads: 1, KVPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "m", Model: mod}}, KVPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	getKey(t, hs.URL+"/metrics", "") // so that the HTTP metrics have a request to count
	_, _, text := getKey(t, hs.URL+"/metrics", "")
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(text, -1) {
		exported[m[1]] = true
	}
	named := regexp.MustCompile("`(glassbox_[a-z_]+)`").FindAllStringSubmatch(doc, -1)
	if len(named) < 10 {
		t.Fatalf("docs/deploy.md names %d glassbox metrics", len(named))
	}
	for _, m := range named {
		if !exported[m[1]] {
			t.Errorf("docs/deploy.md names %s, which /metrics does not export", m[1])
		}
	}
}

// Package kubernetes holds the manifests that run orchestrator as
// Kubernetes Jobs; its tests decode them strictly against the Kubernetes API
// types and check them against the orchestrator CLI built from this
// repository.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/json"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// repoRoot is where go build runs to make the binary the Jobs' image holds.
const repoRoot = "../.."

// kinds maps "apiVersion kind" to the type a document of it decodes into.
// A document of any other kind is an error: add its type here first.
var kinds = map[string]func() any{
	"batch/v1 Job":             func() any { return &batchv1.Job{} },
	"v1 ConfigMap":             func() any { return &corev1.ConfigMap{} },
	"v1 Secret":                func() any { return &corev1.Secret{} },
	"v1 PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
	"kustomize.config.k8s.io/v1beta1 Kustomization": func() any { return &kustomize.Kustomization{} },
}

// document is one YAML document of a manifest file, decoded.
type document struct {
	where string // file, and #n when the file holds several documents
	kind  string // "apiVersion kind"
	obj   any
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// decode decodes one YAML document the way the API server reads it: YAML
// to JSON (duplicate keys are errors), then case-sensitive JSON into the
// kind's type with unknown and duplicate fields as errors. It returns nil,
// nil for a document that holds only comments.
func decode(doc []byte) (*document, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return nil, fmt.Errorf("apiVersion/kind: %w", err)
	}
	kind := tm.APIVersion + " " + tm.Kind
	newObj, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q: not a kind these tests know", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	strict, err := json.UnmarshalStrict(j, obj, json.DisallowDuplicateFields, json.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%s: %w", tm.Kind, errors.Join(strict...))
	}
	return &document{kind: kind, obj: obj}, nil
}

// decodeFile splits a file into its documents and decodes each.
func decodeFile(name string, data []byte) ([]document, error) {
	parts := docSeparator.Split(string(data), -1)
	var docs []document
	var errs []error
	for i, part := range parts {
		where := name
		if len(parts) > 1 {
			where = fmt.Sprintf("%s#%d", name, i+1)
		}
		d, err := decode([]byte(part))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if d != nil {
			d.where = where
			docs = append(docs, *d)
		}
	}
	if len(docs) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no document", name))
	}
	return docs, errors.Join(errs...)
}

// manifests is every document of every *.yaml file in this directory,
// indexed by kind and name.
type manifests struct {
	docs          []document
	jobs          map[string]*batchv1.Job
	configMaps    map[string]*corev1.ConfigMap
	secrets       map[string]*corev1.Secret
	claims        map[string]*corev1.PersistentVolumeClaim
	kustomization *kustomize.Kustomization
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no *.yaml in the directory")
	}
	m := &manifests{
		jobs:       map[string]*batchv1.Job{},
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
		claims:     map[string]*corev1.PersistentVolumeClaim{},
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := decodeFile(f, data)
		if err != nil {
			t.Error(err)
		}
		m.docs = append(m.docs, docs...)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, d := range m.docs {
		var name string
		var dup bool
		switch o := d.obj.(type) {
		case *batchv1.Job:
			name, dup = o.Name, m.jobs[o.Name] != nil
			m.jobs[o.Name] = o
		case *corev1.ConfigMap:
			name, dup = o.Name, m.configMaps[o.Name] != nil
			m.configMaps[o.Name] = o
		case *corev1.Secret:
			name, dup = o.Name, m.secrets[o.Name] != nil
			m.secrets[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			name, dup = o.Name, m.claims[o.Name] != nil
			m.claims[o.Name] = o
		case *kustomize.Kustomization:
			name, dup = "kustomization", m.kustomization != nil
			m.kustomization = o
		}
		if name == "" {
			t.Errorf("%s: %s without metadata.name", d.where, d.kind)
		}
		if dup {
			t.Errorf("%s: a second %s named %q", d.where, d.kind, name)
		}
	}
	return m
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	count := map[string]int{}
	for _, d := range m.docs {
		count[d.kind]++
	}
	t.Logf("%d documents: %v", len(m.docs), count)
	if len(m.jobs) == 0 || m.kustomization == nil {
		t.Fatalf("want Jobs and a Kustomization, got %v", count)
	}
}

func TestKustomizationResourcesExist(t *testing.T) {
	m := loadManifests(t)
	k := m.kustomization
	if k == nil {
		t.Fatal("no kustomization.yaml")
	}
	if len(k.Resources) == 0 {
		t.Fatal("kustomization.yaml lists no resources")
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
		listed[r] = true
		if _, err := os.Stat(r); err != nil {
			t.Errorf("kustomization.yaml resource %s: %v", r, err)
		}
	}
	// What the kustomization applies must hold together on its own: every
	// ConfigMap, Secret and claim a listed Job uses is listed too.
	applied := &manifests{jobs: map[string]*batchv1.Job{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, claims: map[string]*corev1.PersistentVolumeClaim{}}
	for _, d := range m.docs {
		if !listed[strings.SplitN(d.where, "#", 2)[0]] {
			continue
		}
		switch o := d.obj.(type) {
		case *batchv1.Job:
			applied.jobs[o.Name] = o
		case *corev1.ConfigMap:
			applied.configMaps[o.Name] = o
		case *corev1.Secret:
			applied.secrets[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			applied.claims[o.Name] = o
		}
	}
	for _, name := range sortedKeys(applied.jobs) {
		for _, err := range referenceErrors(applied, applied.jobs[name]) {
			t.Errorf("kustomization.yaml applies Job %s: %v", name, err)
		}
	}
}

// TestJobs checks what the README promises of every Job: a failed shard is
// neither restarted in place nor retried (restartPolicy Never,
// backoffLimit 0), every object it uses is among the manifests, and the
// orchestrator container runs a command the CLI accepts.
func TestJobs(t *testing.T) {
	m := loadManifests(t)
	waves := fleetWaves(t, m)
	for _, name := range sortedKeys(m.jobs) {
		job := m.jobs[name]
		t.Run(name, func(t *testing.T) {
			spec := job.Spec.Template.Spec
			if spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q, want Never: a restarted pod would run its shard again over a half-written report", spec.RestartPolicy)
			}
			if job.Spec.BackoffLimit == nil {
				t.Error("backoffLimit not set (Kubernetes' default retries a failed pod 6 times)")
			} else if *job.Spec.BackoffLimit != 0 {
				t.Errorf("backoffLimit %d, want 0: a failed shard is reported, not retried blindly", *job.Spec.BackoffLimit)
			}
			for _, err := range referenceErrors(m, job) {
				t.Error(err)
			}
			c := orchestratorContainer(job)
			if c == nil {
				t.Fatal("no container named orchestrator")
			}
			if len(c.Command) > 0 {
				t.Errorf("command %q replaces the image's entrypoint /orchestrator: give the orchestrator command in args", c.Command)
			}
			if err := checkCLIArgs(c.Args); err != nil {
				t.Error(err)
			}
			for _, err := range shardErrors(job, c.Args) {
				t.Error(err)
			}
			if w, ok := flagValue(c.Args, "wave"); ok && !slices.Contains(waves, w) {
				t.Errorf("--wave=%s: the fleet file has no such wave (it has %v)", w, waves)
			}
		})
	}
}

// TestFleetFileValidates runs `orchestrator validate --strict` on the fleet
// file each Job reads, with the environment variables its pod gets (the
// fleet file's ${NAME} references must all be among them).
func TestFleetFileValidates(t *testing.T) {
	m := loadManifests(t)
	bin := orchestratorBinary(t)
	for _, name := range sortedKeys(m.jobs) {
		job := m.jobs[name]
		c := orchestratorContainer(job)
		if c == nil {
			continue
		}
		content, err := fleetFile(m, job, c)
		if err != nil {
			t.Errorf("Job %s: %v", name, err)
			continue
		}
		file := filepath.Join(t.TempDir(), "fleet.yaml")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--strict", "--fleet", file)
		cmd.Env = []string{}
		for _, v := range envNames(m, c) {
			cmd.Env = append(cmd.Env, v+"=placeholder")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("Job %s: orchestrator validate --strict of its fleet file: %v\n%s", name, err, out)
		}
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	// The Jobs give the orchestrator command as args: the entrypoint is the binary.
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \["/orchestrator"\]$`).MatchString(df) {
		t.Error(`Dockerfile: want ENTRYPOINT ["/orchestrator"]`)
	}
	if !strings.Contains(df, "./cmd/orchestrator") {
		t.Error("Dockerfile does not build ./cmd/orchestrator")
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(gomod))
	got := regexp.MustCompile(`(?m)^FROM golang:(\d+)\.(\d+)`).FindStringSubmatch(df)
	if want == nil || got == nil {
		t.Fatalf("go version of go.mod (%v) or of the Dockerfile's build image (%v) not found", want, got)
	}
	if minor(got) < minor(want) || got[1] != want[1] {
		t.Errorf("Dockerfile builds with golang:%s.%s, go.mod needs go %s.%s", got[1], got[2], want[1], want[2])
	}
}

func minor(m []string) int { n, _ := strconv.Atoi(m[2]); return n }

// TestReadmeListsEveryFile keeps the README's table of files in step with
// the directory.
func TestReadmeListsEveryFile(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if n == "README.md" || strings.HasSuffix(n, ".go") {
			continue
		}
		if !bytes.Contains(b, []byte("| `"+n+"` |")) {
			t.Errorf("README.md's table does not list %s", n)
		}
	}
}

// TestStrictDecodingRejects makes sure the decoding above would catch the
// typos it is here for.
func TestStrictDecodingRejects(t *testing.T) {
	good, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFile("job.yaml", good); err != nil {
		t.Fatalf("job.yaml: %v", err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"misspelled field", "restartPolicy: Never", "restartPolcy: Never", `unknown field "spec.template.spec.restartPolcy"`},
		{"field of another case", "restartPolicy: Never", "restartpolicy: Never", `unknown field "spec.template.spec.restartpolicy"`},
		{"number as a string", "backoffLimit: 0", `backoffLimit: "3"`, "backoffLimit"},
		{"field at the wrong level", "  name: orchestrator-up\n", "  name: orchestrator-up\n  backoffLimit: 1\n", `unknown field "metadata.backoffLimit"`},
		{"duplicate key", "  parallelism: 4", "  parallelism: 4\n  parallelism: 2", "parallelism"},
		{"bad quantity", "memory: 256Mi", "memory: 256MB!", "quantities"},
		{"unknown kind", "kind: Job", "kind: Jobb", "not a kind these tests know"},
		{"unknown version", "apiVersion: batch/v1", "apiVersion: batch/v2", "not a kind these tests know"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tc.from)) {
				t.Fatalf("job.yaml has no %q", tc.from)
			}
			bad := bytes.Replace(good, []byte(tc.from), []byte(tc.to), 1)
			_, err := decodeFile("job.yaml", bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decoding with %q: got %v, want an error with %q", tc.to, err, tc.want)
			}
		})
	}
	// A second document in a file is decoded too.
	_, err = decodeFile("two.yaml", append(append(good, "\n---\n"...), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\nbinary: {}\n"...))
	if err == nil || !strings.Contains(err.Error(), "two.yaml#2") || !strings.Contains(err.Error(), `unknown field "binary"`) {
		t.Fatalf("second document with an unknown field: got %v", err)
	}
}

// TestCLIArgsRejects makes sure the args check catches what the CLI would
// refuse in the pod.
func TestCLIArgsRejects(t *testing.T) {
	if err := checkCLIArgs([]string{"up", "--fleet=/etc/orchestrator/fleet.yaml", "--shard=4"}); err != nil {
		t.Fatalf("good args: %v", err)
	}
	for _, args := range [][]string{
		{"upp", "--fleet=/etc/orchestrator/fleet.yaml"},
		{"up", "--fleet=/etc/orchestrator/fleet.yaml", "--parallelism=4"},
		{"up", "--parallel=four"},
		{"up", "--lock-timeout=5"},
		{"--fleet=/etc/orchestrator/fleet.yaml", "up"},
		{},
	} {
		if err := checkCLIArgs(args); err == nil {
			t.Errorf("args %q: accepted, want an error", args)
		}
	}
}

func orchestratorContainer(job *batchv1.Job) *corev1.Container {
	for i, c := range job.Spec.Template.Spec.Containers {
		if c.Name == "orchestrator" {
			return &job.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// referenceErrors lists what a Job uses that is not among m: ConfigMaps,
// Secrets and their keys, claims, volumes, and $(NAME) references in
// command and args that the container's environment does not define.
func referenceErrors(m *manifests, job *batchv1.Job) []error {
	var errs []error
	spec := job.Spec.Template.Spec
	configMapKey := func(where, name, key string) {
		cm, ok := m.configMaps[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no ConfigMap %q", where, name))
		case key != "":
			if _, ok := cm.Data[key]; !ok {
				errs = append(errs, fmt.Errorf("%s: ConfigMap %q has no key %q", where, name, key))
			}
		}
	}
	secretKey := func(where, name, key string) {
		s, ok := m.secrets[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no Secret %q", where, name))
		case key != "":
			_, inData := s.Data[key]
			_, inString := s.StringData[key]
			if !inData && !inString {
				errs = append(errs, fmt.Errorf("%s: Secret %q has no key %q", where, name, key))
			}
		}
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		where := "volume " + v.Name
		if volumes[v.Name] {
			errs = append(errs, fmt.Errorf("%s: declared twice", where))
		}
		volumes[v.Name] = true
		switch {
		case v.ConfigMap != nil:
			configMapKey(where, v.ConfigMap.Name, "")
			for _, it := range v.ConfigMap.Items {
				configMapKey(where, v.ConfigMap.Name, it.Key)
			}
		case v.Secret != nil:
			secretKey(where, v.Secret.SecretName, "")
			for _, it := range v.Secret.Items {
				secretKey(where, v.Secret.SecretName, it.Key)
			}
		case v.PersistentVolumeClaim != nil:
			if m.claims[v.PersistentVolumeClaim.ClaimName] == nil {
				errs = append(errs, fmt.Errorf("%s: no PersistentVolumeClaim %q", where, v.PersistentVolumeClaim.ClaimName))
			}
		}
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		where := "container " + c.Name
		for _, vm := range c.VolumeMounts {
			if !volumes[vm.Name] {
				errs = append(errs, fmt.Errorf("%s mounts volume %q, which the pod does not declare", where, vm.Name))
			}
		}
		for _, e := range c.EnvFrom {
			switch {
			case e.ConfigMapRef != nil:
				configMapKey(where+" envFrom", e.ConfigMapRef.Name, "")
			case e.SecretRef != nil:
				secretKey(where+" envFrom", e.SecretRef.Name, "")
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				configMapKey(where+" env "+e.Name, r.Name, r.Key)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				secretKey(where+" env "+e.Name, r.Name, r.Key)
			}
		}
		defined := envNames(m, &c)
		if job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion {
			defined = append(defined, "JOB_COMPLETION_INDEX")
		}
		for _, arg := range slices.Concat(c.Command, c.Args) {
			for _, ref := range envRef.FindAllStringSubmatch(arg, -1) {
				if !slices.Contains(defined, ref[1]) {
					errs = append(errs, fmt.Errorf("%s: %q refers to $(%s), which the container's environment does not define (Kubernetes would pass it literally)", where, arg, ref[1]))
				}
			}
		}
	}
	return errs
}

// envRef is a reference Kubernetes expands in a container's command and
// args.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// envNames is the environment a container's pod gets from its env and
// envFrom, as far as the manifests define it.
func envNames(m *manifests, c *corev1.Container) []string {
	var names []string
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			if cm := m.configMaps[e.ConfigMapRef.Name]; cm != nil {
				for k := range cm.Data {
					names = append(names, e.Prefix+k)
				}
			}
		case e.SecretRef != nil:
			if s := m.secrets[e.SecretRef.Name]; s != nil {
				for k := range s.Data {
					names = append(names, e.Prefix+k)
				}
				for k := range s.StringData {
					names = append(names, e.Prefix+k)
				}
			}
		}
	}
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// shardErrors checks --shard against the Job: `--shard N` takes the pod's
// index from JOB_COMPLETION_INDEX, so the Job must be Indexed with N
// completions, N at once.
func shardErrors(job *batchv1.Job, args []string) []error {
	v, ok := flagValue(args, "shard")
	if !ok || strings.Contains(v, "/") {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return []error{fmt.Errorf("--shard=%s: not a number of shards", v)}
	}
	var errs []error
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		errs = append(errs, fmt.Errorf("--shard=%d reads JOB_COMPLETION_INDEX: the Job needs completionMode Indexed", n))
	}
	if c := job.Spec.Completions; c == nil || int(*c) != n {
		errs = append(errs, fmt.Errorf("--shard=%d but completions %v: keep them equal", n, deref(c)))
	}
	if p := job.Spec.Parallelism; p == nil || int(*p) != n {
		errs = append(errs, fmt.Errorf("--shard=%d but parallelism %v: keep them equal", n, deref(p)))
	}
	return errs
}

func deref(p *int32) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// flagValue is the value of --name=V or --name V in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// fleetFile is the content of the fleet file the Job's --fleet names: a
// key of a ConfigMap volume mounted at its directory.
func fleetFile(m *manifests, job *batchv1.Job, c *corev1.Container) (string, error) {
	p, ok := flagValue(c.Args, "fleet")
	if !ok {
		return "", errors.New("the orchestrator container has no --fleet")
	}
	dir, key := path.Split(p)
	for _, vm := range c.VolumeMounts {
		if path.Clean(vm.MountPath) != path.Clean(dir) || vm.SubPath != "" {
			continue
		}
		for _, v := range job.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.ConfigMap == nil {
				return "", fmt.Errorf("--fleet=%s: volume %s is not a ConfigMap", p, v.Name)
			}
			for _, it := range v.ConfigMap.Items {
				if it.Path == key {
					key = it.Key
				}
			}
			cm := m.configMaps[v.ConfigMap.Name]
			if cm == nil {
				return "", fmt.Errorf("--fleet=%s: no ConfigMap %q", p, v.ConfigMap.Name)
			}
			content, ok := cm.Data[key]
			if !ok {
				return "", fmt.Errorf("--fleet=%s: ConfigMap %q has no key %q", p, cm.Name, key)
			}
			return content, nil
		}
	}
	return "", fmt.Errorf("--fleet=%s: no volume is mounted at %s", p, dir)
}

// fleetWaves is the wave names of the fleet files the Jobs read.
func fleetWaves(t *testing.T, m *manifests) []string {
	t.Helper()
	var names []string
	for _, name := range sortedKeys(m.jobs) {
		c := orchestratorContainer(m.jobs[name])
		if c == nil {
			continue
		}
		content, err := fleetFile(m, m.jobs[name], c)
		if err != nil {
			continue // reported by TestFleetFileValidates
		}
		var f struct {
			Waves []struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(content), &f); err != nil {
			t.Fatalf("Job %s: fleet file: %v", name, err)
		}
		for _, w := range f.Waves {
			names = append(names, w.Name)
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// checkCLIArgs runs the orchestrator binary with a container's args and
// --help: the CLI parses every flag (names, and values of typed flags)
// before it shows a command's help, so an unknown command, an unknown
// flag or a bad value fails as it would in the pod, and nothing runs.
func checkCLIArgs(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("args %q: the first arg must be an orchestrator command", args)
	}
	bin, err := buildOrchestrator()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, append(slices.Clone(args), "--help")...)
	cmd.Env = []string{}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("orchestrator %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	if want := "orchestrator " + strings.Join(words, " ") + " - "; !strings.Contains(stdout.String(), want) {
		return fmt.Errorf("orchestrator %s --help: no %q in its help:\n%s", strings.Join(args, " "), want, stdout.String())
	}
	return nil
}

func orchestratorBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildOrchestrator()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildOrchestrator builds the CLI from the repository once per test run.
func buildOrchestrator() (string, error) {
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "orchestrator")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/orchestrator")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/orchestrator: %v\n%s", err, out)
		}
	})
	return binPath, buildErr
}

var binDir string

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "orchestrator-manifests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

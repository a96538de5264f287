package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// callTimeout caps one unary API call, so a hung request is reported as
	// that request rather than as the whole run's deadline.
	callTimeout = 15 * time.Second
	// eventTimeout is how long a watch event or informer callback may take
	// to arrive after the write that causes it.
	eventTimeout = 10 * time.Second
	// cleanupTimeout is cleanup's own deadline; it runs even after the
	// run's deadline has passed.
	cleanupTimeout = 20 * time.Second

	// routeLabel is the label the sidecar's test routes match on.
	routeLabel = "cluster"
	// runLabel marks every object this program creates with its run id,
	// so leftovers can be traced to a run (it plays no part in routing).
	runLabel = "mca-e2e-run"

	protobufType = "application/vnd.kubernetes.protobuf"
)

// cluster is one cluster reached directly with its admin kubeconfig.
type cluster struct {
	name string
	// server is the normalised API server URL; two clusters with the same
	// server are the same cluster (the degenerate self-test).
	server string
	cs     kubernetes.Interface
}

type env struct {
	ns    string
	runID string
	logf  func(string, ...any)

	// sidecarCfg is the rest.Config from the sidecar kubeconfig, unchanged
	// apart from client-side rate limits; checks derive their clients from
	// it (checkRun.sidecarClient) to choose the encoding.
	sidecarCfg *rest.Config

	clusters map[string]*cluster
	// order lists the clusters by name, for stable messages.
	order []*cluster
}

func loadConfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	// The default 5 QPS would make the client itself, not the sidecar, the
	// bottleneck and stretch the run.
	cfg.QPS = 200
	cfg.Burst = 400
	return cfg, nil
}

func normaliseServer(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return strings.TrimRight(raw, "/")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if u.Port() == "" && u.Scheme == "https" {
		u.Host += ":443"
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String()
}

func newClientset(cfg *rest.Config, timeout time.Duration) (kubernetes.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.Timeout = timeout
	return kubernetes.NewForConfig(c)
}

func newEnv(o options, logf func(string, ...any)) (*env, error) {
	e := &env{ns: o.namespace, runID: randomSuffix(6), logf: logf, clusters: map[string]*cluster{}}

	cfg, err := loadConfig(o.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	e.sidecarCfg = cfg

	names := make([]string, 0, len(o.direct))
	for name := range o.direct {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		dcfg, err := loadConfig(o.direct[name])
		if err != nil {
			return nil, fmt.Errorf("direct %s: %w", name, err)
		}
		cs, err := newClientset(dcfg, callTimeout)
		if err != nil {
			return nil, fmt.Errorf("direct %s client: %w", name, err)
		}
		c := &cluster{name: name, server: normaliseServer(dcfg.Host), cs: cs}
		e.clusters[name] = c
		e.order = append(e.order, c)
	}
	logf("run %s: sidecar %s, namespace %s", e.runID, cfg.Host, e.ns)
	for _, c := range e.order {
		logf("direct %s: %s", c.name, c.server)
	}
	return e, nil
}

// randomSuffix returns n characters from [a-z0-9], valid in any object name.
func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// check is one named end-to-end check.
type check struct {
	name string
	fn   func(ctx context.Context, r *checkRun) error
}

// checkRun is the state of one check while it runs: the objects it created
// (cleaned up afterwards whatever happened) and whether placement checks had
// to be skipped.
type checkRun struct {
	*env
	check   string
	created []string
	// limited is set when a "must not exist in cluster X" assertion was
	// skipped because X is served by the same API server as the expected
	// cluster.
	limited bool
	// note, when set, is shown after "ok NAME" in parentheses (what a
	// passing check observed that the reader should know).
	note string
	// wire records every request sent to the sidecar, for failure messages.
	wire wireLog
}

const (
	// encodingJSON sends and accepts JSON only.
	encodingJSON = "application/json"
	// encodingProtobuf sends protobuf and accepts protobuf or JSON.
	encodingProtobuf = protobufType
	// encodingDefault leaves client-go's defaults alone: since client-go
	// 0.34 the generated clientset uses protobuf for built-in types, so this
	// is what an unmodified client-go program sends.
	encodingDefault = ""
)

// sidecarClient returns a clientset that talks to the sidecar with the
// given encoding and records its requests in r.wire. timeout 0 means no
// client-side timeout, as watches and informers need.
func (r *checkRun) sidecarClient(encoding string, timeout time.Duration) (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(r.sidecarCfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &recordingTransport{next: rt, log: &r.wire}
	})
	switch encoding {
	case encodingJSON:
		cfg.ContentType = encodingJSON
		cfg.AcceptContentTypes = encodingJSON
	case encodingProtobuf:
		cfg.ContentType = protobufType
		cfg.AcceptContentTypes = protobufType + ",application/json"
	}
	cfg.Timeout = timeout
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("sidecar client: %w", err)
	}
	return cs, nil
}

// runCheck runs c and returns its result line.
func (e *env) runCheck(ctx context.Context, c check) (line string) {
	r := &checkRun{env: e, check: c.name}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			line = fmt.Sprintf("FAIL %s: panic: %v", c.name, p)
		}
		r.cleanup()
		e.logf("%s: done in %s", c.name, time.Since(start).Round(time.Millisecond))
	}()
	if err := c.fn(ctx, r); err != nil {
		msg := oneLine(err.Error())
		if xs := r.wire.exchanges(); len(xs) > 0 {
			msg += "; last requests to the sidecar: " + summarise(xs, 4)
		}
		return fmt.Sprintf("FAIL %s: %s", c.name, msg)
	}
	if r.limited {
		return fmt.Sprintf("ok %s (placement checks limited: clusters share a server)", c.name)
	}
	if r.note != "" {
		return fmt.Sprintf("ok %s (%s)", c.name, r.note)
	}
	return "ok " + c.name
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// objectName returns a name unique to this run and check.
func (r *checkRun) objectName(part string) string {
	return fmt.Sprintf("mca-e2e-cg-%s-%s-%s", r.runID, r.check, part)
}

// track records a name for cleanup; call it before the create, so an
// object whose create timed out on the client but succeeded is removed too.
func (r *checkRun) track(name string) {
	r.created = append(r.created, name)
}

// cleanup deletes every tracked ConfigMap directly from every cluster. It
// uses the direct clients rather than the sidecar so it works even when the
// sidecar is what failed.
func (r *checkRun) cleanup() {
	if len(r.created) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	seen := map[string]bool{}
	for _, c := range r.order {
		if seen[c.server] {
			continue
		}
		seen[c.server] = true
		for _, name := range r.created {
			err := c.cs.CoreV1().ConfigMaps(r.ns).Delete(ctx, name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				r.logf("%s: cleanup: delete configmap %s/%s in %s: %v", r.check, r.ns, name, c.name, err)
			}
		}
	}
}

// newConfigMap builds a ConfigMap for cluster target: labelled
// cluster=TARGET for east and west, without the routing label for home.
func (r *checkRun) newConfigMap(name, target string) *corev1.ConfigMap {
	labels := map[string]string{runLabel: r.runID}
	if target != "home" {
		labels[routeLabel] = target
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.ns, Labels: labels},
		Data:       map[string]string{"step": "created", "target": target},
	}
}

// expectPlacement asserts that ConfigMap name exists in cluster want and in
// no other cluster, and returns want's copy. An absence check against a
// cluster served by the same API server as want is skipped and recorded in
// r.limited.
func (r *checkRun) expectPlacement(ctx context.Context, name, want string) (*corev1.ConfigMap, error) {
	home := r.clusters[want]
	obj, err := home.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		var elsewhere []string
		for _, c := range r.order {
			if c.name == want {
				continue
			}
			if _, err := c.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
				elsewhere = append(elsewhere, c.name)
			}
		}
		if len(elsewhere) > 0 {
			return nil, fmt.Errorf("configmap %s is in cluster(s) %s, expected in %s", name, strings.Join(elsewhere, ","), want)
		}
		return nil, fmt.Errorf("configmap %s is in no cluster, expected in %s", name, want)
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %s directly from %s: %w", name, want, err)
	}
	for _, c := range r.order {
		if c.name == want {
			continue
		}
		if c.server == home.server {
			r.limited = true
			continue
		}
		_, err := c.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return nil, fmt.Errorf("configmap %s is in cluster %s too, expected only in %s", name, c.name, want)
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get configmap %s directly from %s: %w", name, c.name, err)
		}
	}
	return obj, nil
}

// expectGone asserts that ConfigMap name exists in no cluster.
func (r *checkRun) expectGone(ctx context.Context, name string) error {
	for _, c := range r.order {
		_, err := c.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return fmt.Errorf("configmap %s still exists in cluster %s after delete through the sidecar", name, c.name)
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get configmap %s directly from %s: %w", name, c.name, err)
		}
	}
	return nil
}

// exchange is one HTTP request/response as a client saw it.
type exchange struct {
	method, path, query string
	reqType, respType   string
	status              int
	err                 error
}

func (x exchange) String() string {
	s := x.method + " " + x.path
	if x.query != "" {
		s += "?" + x.query
	}
	if x.err != nil {
		return s + " -> " + x.err.Error()
	}
	return fmt.Sprintf("%s -> %d %s", s, x.status, x.respType)
}

// wireLog is what went over the wire, so a check can assert on the
// encodings and query parameters client-go chose and a failure can show the
// requests that led to it.
type wireLog struct {
	mu  sync.Mutex
	log []exchange
}

func (l *wireLog) add(x exchange) {
	l.mu.Lock()
	l.log = append(l.log, x)
	l.mu.Unlock()
}

func (l *wireLog) exchanges() []exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]exchange(nil), l.log...)
}

// recordingTransport records each round trip in log. The entry is added
// when the response head arrives, so a watch is recorded while it runs.
type recordingTransport struct {
	next http.RoundTripper
	log  *wireLog
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	x := exchange{method: req.Method, path: req.URL.Path, query: req.URL.RawQuery, reqType: req.Header.Get("Content-Type"), err: err}
	if resp != nil {
		x.status = resp.StatusCode
		x.respType = resp.Header.Get("Content-Type")
	}
	t.log.add(x)
	return resp, err
}

// summarise renders at most the last n exchanges.
func summarise(xs []exchange, n int) string {
	if len(xs) > n {
		xs = xs[len(xs)-n:]
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

package main

// Fan-out mode (--fanout): one client-go SharedInformer on the namespace's
// ConfigMaps through a sidecar whose rule sends them to home, east and west
// at once (ARCHITECTURE §3.5). The sidecar merges the three clusters' lists
// and watches, marks each object with the cluster it lives in (annotation
// mca.k8s.io/cluster) and gives the informer opaque composite versions.
//
// The informer runs for the whole mode, across the checks: it must list
// what the clusters hold, relay every cluster's add/update/delete, and
// converge again after an API server restart and after a 410 that forces
// a relist. Every object is written directly to its cluster (a fan-out
// rule has no single cluster to create in), and the informer's store is
// compared with what the clusters really hold, read directly.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

const (
	// clusterAnnotation is where the sidecar says which cluster a merged
	// object lives in.
	clusterAnnotation = "mca.k8s.io/cluster"
	// compositePrefix starts every composite resourceVersion of a merged
	// list or watch.
	compositePrefix = "mca1."

	// syncTimeout bounds the informer's first sync.
	syncTimeout = 30 * time.Second
	// convergeTimeout is how long the informer may take to match the
	// clusters again after a disturbance. client-go's reflector backs off
	// up to 30s (doubled by jitter) between failed list/watch attempts
	// while a cluster is down, so this is generous.
	convergeTimeout = 120 * time.Second
	// commandTimeout bounds --restart-cmd and --expire-cmd (each also
	// bounded by --timeout).
	commandTimeout = 240 * time.Second
	// downPoll is how often the restarted cluster is probed while
	// --restart-cmd runs.
	downPoll = 200 * time.Millisecond
)

// fanoutEvent is one call of the informer's event handlers.
type fanoutEvent struct {
	kind string // "add", "update", "delete"
	cm   *corev1.ConfigMap
	// tombstone: the delete came as DeletedFinalStateUnknown, i.e. the
	// informer noticed the object missing at a relist rather than
	// receiving its DELETED event.
	tombstone bool
}

// lwCounts counts the informer's calls of its ListWatch.
type lwCounts struct {
	lists      int // plain LISTs
	watchLists int // streaming lists: watch with sendInitialEvents=true
	watches    int // watches from a version
	expired    int // 410s seen: ERROR events in a watch, or a call's error
}

// relists is how often the informer fetched the whole state again.
func (c lwCounts) relists() int { return c.lists + c.watchLists }

func (c lwCounts) sub(o lwCounts) lwCounts {
	return lwCounts{c.lists - o.lists, c.watchLists - o.watchLists, c.watches - o.watches, c.expired - o.expired}
}

func (c lwCounts) String() string {
	return fmt.Sprintf("%d list(s), %d streaming list(s) (sendInitialEvents), %d watch(es), %d 410 Expired", c.lists, c.watchLists, c.watches, c.expired)
}

// lwStats is what the informer's ListWatch observed.
type lwStats struct {
	mu      sync.Mutex
	counts  lwCounts
	lastErr string
}

func (s *lwStats) update(fn func(*lwCounts)) {
	s.mu.Lock()
	fn(&s.counts)
	s.mu.Unlock()
}

func (s *lwStats) snapshot() lwCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// noteErr records a list/watch error (or ERROR event) for messages and
// counts it when it is a 410.
func (s *lwStats) noteErr(what string, err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		s.counts.expired++
	}
	s.lastErr = what + ": " + oneLine(err.Error())
}

// noteLast records an error for messages without counting it.
func (s *lwStats) noteLast(what string, err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	s.lastErr = what + ": " + oneLine(err.Error())
	s.mu.Unlock()
}

func (s *lwStats) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// observedWatch relays a watch unchanged and records its ERROR events.
type observedWatch struct {
	up   watch.Interface
	out  chan watch.Event
	stop chan struct{}
	once sync.Once
}

func newObservedWatch(up watch.Interface, stats *lwStats) *observedWatch {
	w := &observedWatch{up: up, out: make(chan watch.Event), stop: make(chan struct{})}
	go func() {
		defer close(w.out)
		for {
			select {
			case <-w.stop:
				return
			case ev, ok := <-up.ResultChan():
				if !ok {
					return
				}
				if ev.Type == watch.Error {
					stats.noteErr("watch ERROR event", apierrors.FromObject(ev.Object))
				}
				select {
				case w.out <- ev:
				case <-w.stop:
					return
				}
			}
		}
	}()
	return w
}

func (w *observedWatch) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.up.Stop()
	})
}

func (w *observedWatch) ResultChan() <-chan watch.Event { return w.out }

// placed names one object in one cluster.
type placed struct{ cluster, name string }

// objKey identifies an object across clusters.
type objKey struct{ cluster, namespace, name string }

func (k objKey) String() string { return k.cluster + ":" + k.namespace + "/" + k.name }

// contents maps each object to its data.
type contents map[objKey]map[string]string

// fanout is the state the fan-out checks share: the informer runs from the
// first check to the end of the mode.
type fanout struct {
	restartCmd, restartCluster, expireCmd string

	e       *env // set by the first check
	created []placed

	inf     cache.SharedIndexInformer
	stopInf context.CancelFunc
	infDone chan struct{}
	events  chan fanoutEvent
	stats   lwStats
	// rec's wire log records the informer's requests to the sidecar.
	rec *checkRun
}

func newFanout(o options) *fanout {
	return &fanout{
		restartCmd:     o.restartCmd,
		restartCluster: o.restartCluster,
		expireCmd:      o.expireCmd,
		events:         make(chan fanoutEvent, 4096),
	}
}

// checks lists the fan-out mode's checks; setup (the namespace in every
// cluster) is the one they share with the default mode.
func (f *fanout) checks() []check {
	return []check{
		{"setup", checkSetup},
		{"fanout-informer-sync", f.wrap(f.checkSync)},
		{"fanout-informer-events", f.wrap(f.checkEvents)},
		{"fanout-informer-restart", f.wrap(f.checkRestart)},
		{"fanout-informer-410", f.wrap(f.checkExpire)},
	}
}

// wrap adds what the informer last did to a failure.
func (f *fanout) wrap(fn func(ctx context.Context, r *checkRun) error) func(ctx context.Context, r *checkRun) error {
	return func(ctx context.Context, r *checkRun) error {
		if f.e == nil {
			f.e = r.env
		}
		err := fn(ctx, r)
		if err == nil || f.inf == nil {
			return err
		}
		msg := err.Error() + "; informer calls so far: " + f.stats.snapshot().String()
		if last := f.stats.last(); last != "" {
			msg += "; last list/watch error: " + last
		}
		if xs := f.rec.wire.exchanges(); len(xs) > 0 {
			msg += "; informer's last requests to the sidecar: " + summarise(xs, 4)
		}
		return errors.New(msg)
	}
}

// close stops the informer and deletes every object the checks created,
// directly from its cluster.
func (f *fanout) close(logf func(string, ...any)) {
	if f.inf != nil {
		f.stopInf()
		select {
		case <-f.infDone:
		case <-time.After(cleanupTimeout):
			logf("fanout: the informer did not stop within %s", cleanupTimeout)
		}
	}
	if f.e == nil || len(f.created) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	for _, p := range f.created {
		err := f.e.clusters[p.cluster].cs.CoreV1().ConfigMaps(f.e.ns).Delete(ctx, p.name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			logf("fanout: cleanup: delete configmap %s/%s in %s: %v", f.e.ns, p.name, p.cluster, err)
		}
	}
}

// create makes ConfigMap name directly in cluster, recorded for cleanup.
func (f *fanout) create(ctx context.Context, r *checkRun, cluster, name, step string) error {
	f.created = append(f.created, placed{cluster, name})
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.ns, Labels: map[string]string{runLabel: r.runID}},
		Data:       map[string]string{"cluster": cluster, "step": step},
	}
	if _, err := r.clusters[cluster].cs.CoreV1().ConfigMaps(r.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create configmap %s directly in %s: %w", name, cluster, err)
	}
	return nil
}

// setStep sets data.step of ConfigMap name directly in cluster.
func (f *fanout) setStep(ctx context.Context, r *checkRun, cluster, name, step string) error {
	cms := r.clusters[cluster].cs.CoreV1().ConfigMaps(r.ns)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get configmap %s directly from %s: %w", name, cluster, err)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data["step"] = step
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update configmap %s directly in %s: %w", name, cluster, err)
	}
	return nil
}

// remove deletes ConfigMap name directly from cluster.
func (f *fanout) remove(ctx context.Context, r *checkRun, cluster, name string) error {
	err := r.clusters[cluster].cs.CoreV1().ConfigMaps(r.ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		return fmt.Errorf("delete configmap %s directly from %s: %w", name, cluster, err)
	}
	return nil
}

// startInformer starts the informer through the sidecar on r.ns, with
// client-go's default encoding and feature gates: a streaming list
// (sendInitialEvents) first, falling back to list+watch.
func (f *fanout) startInformer(r *checkRun) error {
	f.rec = &checkRun{env: r.env, check: "fanout-informer"}
	cs, err := f.rec.sidecarClient(encodingDefault, 0)
	if err != nil {
		return err
	}
	cms := cs.CoreV1().ConfigMaps(r.ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			f.stats.update(func(c *lwCounts) { c.lists++ })
			list, err := cms.List(ctx, o)
			if err != nil {
				f.stats.noteErr("list", err)
				return nil, err
			}
			return list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			f.stats.update(func(c *lwCounts) {
				if o.SendInitialEvents != nil && *o.SendInitialEvents {
					c.watchLists++
				} else {
					c.watches++
				}
			})
			w, err := cms.Watch(ctx, o)
			if err != nil {
				f.stats.noteErr("watch", err)
				return nil, err
			}
			return newObservedWatch(w, &f.stats), nil
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(lw, &corev1.ConfigMap{}, cache.SharedIndexInformerOptions{})
	send := func(kind string, obj any) {
		ev := fanoutEvent{kind: kind}
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
			ev.tombstone = true
		}
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		ev.cm = cm
		select {
		case f.events <- ev:
		default: // never block the informer; a check waiting for it fails
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { send("add", obj) },
		UpdateFunc: func(_, obj any) { send("update", obj) },
		DeleteFunc: func(obj any) { send("delete", obj) },
	}); err != nil {
		return fmt.Errorf("add event handler: %w", err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		f.stats.noteLast("informer", err)
	}); err != nil {
		return fmt.Errorf("set watch error handler: %w", err)
	}
	// The informer outlives the check that starts it: it stops in close().
	ctx, stop := context.WithCancel(context.Background())
	f.inf, f.stopInf, f.infDone = inf, stop, make(chan struct{})
	go func() {
		defer close(f.infDone)
		inf.RunWithContext(ctx)
	}()
	return nil
}

// storeContents is what the informer's store holds, keyed by the cluster
// each object's annotation names ("(none)" when it has none).
func (f *fanout) storeContents() contents {
	out := contents{}
	for _, obj := range f.inf.GetStore().List() {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		cluster := cm.Annotations[clusterAnnotation]
		if cluster == "" {
			cluster = "(none)"
		}
		out[objKey{cluster, cm.Namespace, cm.Name}] = cm.Data
	}
	return out
}

// clusterContents is what the three clusters hold in the namespace, read
// directly from each.
func clusterContents(ctx context.Context, r *checkRun) (contents, error) {
	out := contents{}
	for _, c := range r.order {
		list, err := c.cs.CoreV1().ConfigMaps(r.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list configmaps in %s directly from %s: %w", r.ns, c.name, err)
		}
		for _, cm := range list.Items {
			out[objKey{c.name, cm.Namespace, cm.Name}] = cm.Data
		}
	}
	return out, nil
}

// diffContents describes how got (the informer) differs from want (the
// clusters); "" when they are equal.
func diffContents(got, want contents) string {
	var missing, extra, differ []string
	for k, wd := range want {
		gd, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k.String())
		case !maps.Equal(gd, wd):
			differ = append(differ, fmt.Sprintf("%s has %v, the cluster %v", k, gd, wd))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k.String())
		}
	}
	if len(missing)+len(extra)+len(differ) == 0 {
		return ""
	}
	show := func(what string, xs []string) string {
		sort.Strings(xs)
		n := len(xs)
		if n > 4 {
			xs = append(xs[:4:4], fmt.Sprintf("and %d more", n-4))
		}
		return fmt.Sprintf("%d %s [%s]", n, what, strings.Join(xs, "; "))
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, show("missing from the informer", missing))
	}
	if len(extra) > 0 {
		parts = append(parts, show("in the informer but in no cluster (keyed by the cluster annotation)", extra))
	}
	if len(differ) > 0 {
		parts = append(parts, show("with other data", differ))
	}
	return fmt.Sprintf("informer has %d objects, the clusters %d: %s", len(got), len(want), strings.Join(parts, ", "))
}

// converge waits up to limit until the informer's store equals the
// clusters' contents, compared by cluster, namespace, name and data.
func (f *fanout) converge(ctx context.Context, r *checkRun, when string, limit time.Duration) error {
	start := time.Now()
	deadline := start.Add(limit)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastDiff, lastErr string
	for {
		lastErr = ""
		if !f.inf.HasSynced() {
			lastDiff = "the informer has not synced"
		} else if want, err := clusterContents(ctx, r); err != nil {
			// Direct reads get the run's context, not this wait's
			// deadline, so their failure is about the cluster.
			lastErr = err.Error()
		} else if d := diffContents(f.storeContents(), want); d != "" {
			lastDiff = d
		} else {
			r.logf("%s: informer matches the clusters (%d objects) %s after %s", r.check, len(want), when, time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			msg := lastDiff
			if msg == "" {
				msg = "never compared"
			}
			if lastErr != "" {
				msg += "; the last direct read failed: " + lastErr
			}
			return fmt.Errorf("%s, the informer did not converge within %s: %s", when, time.Since(start).Round(time.Second), msg)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// drainEvents forgets handler calls that happened before now.
func (f *fanout) drainEvents() {
	for {
		select {
		case <-f.events:
		default:
			return
		}
	}
}

// waitEvent waits up to eventTimeout for the informer's kind handler for
// ConfigMap name, which must carry cluster's annotation and data.step step
// (step "" for deletes: any), skipping other handler calls.
func (f *fanout) waitEvent(ctx context.Context, kind, cluster, name, step string) error {
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the %s handler for %s (%s): %w", kind, name, cluster, ctx.Err())
		case <-timer.C:
			return fmt.Errorf("%s handler did not fire for %s (%s) within %s", kind, name, cluster, eventTimeout)
		case ev := <-f.events:
			if ev.cm.Name != name || ev.kind != kind {
				continue
			}
			if got := ev.cm.Annotations[clusterAnnotation]; got != cluster {
				return fmt.Errorf("%s handler for %s got annotation %s=%q, want %q", kind, name, clusterAnnotation, got, cluster)
			}
			if ev.tombstone {
				return fmt.Errorf("delete handler for %s (%s) got a DeletedFinalStateUnknown: the informer found it gone at a relist, the watch never relayed its DELETED", name, cluster)
			}
			if step != "" && ev.cm.Data["step"] != step {
				return fmt.Errorf("%s handler for %s (%s) got data %v, want step=%s", kind, name, cluster, ev.cm.Data, step)
			}
			return nil
		}
	}
}

// checkSync creates objects directly in each cluster, then starts the
// informer: once synced its store holds every one of them, annotated with
// its cluster, and nothing else but what the clusters hold.
func (f *fanout) checkSync(ctx context.Context, r *checkRun) error {
	counts := map[string]int{"home": 2, "east": 3, "west": 1}
	var names []placed
	for _, c := range r.order {
		for i := 0; i < counts[c.name]; i++ {
			name := r.objectName(fmt.Sprintf("%s-%d", c.name, i))
			if err := f.create(ctx, r, c.name, name, "created"); err != nil {
				return err
			}
			names = append(names, placed{c.name, name})
		}
	}
	if err := f.startInformer(r); err != nil {
		return err
	}
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	synced := cache.WaitForCacheSync(syncCtx.Done(), f.inf.HasSynced)
	cancel()
	if !synced {
		return fmt.Errorf("informer did not sync through the sidecar within %s", syncTimeout)
	}
	r.logf("%s: synced after %s", r.check, f.stats.snapshot())
	store := f.inf.GetStore()
	for _, p := range names {
		obj, ok, err := store.GetByKey(r.ns + "/" + p.name)
		if err != nil || !ok {
			return fmt.Errorf("informer store lacks %s (created directly in %s) after sync (err %v)", p.name, p.cluster, err)
		}
		cm := obj.(*corev1.ConfigMap)
		if got := cm.Annotations[clusterAnnotation]; got != p.cluster {
			return fmt.Errorf("informer has %s with annotation %s=%q, want %q", p.name, clusterAnnotation, got, p.cluster)
		}
	}
	if rv := f.inf.LastSyncResourceVersion(); !strings.HasPrefix(rv, compositePrefix) {
		return fmt.Errorf("informer synced at resourceVersion %q, want a composite version (%s...) of the merged list", rv, compositePrefix)
	}
	return f.converge(ctx, r, "after sync", eventTimeout)
}

// checkEvents creates, updates and deletes an object directly in each
// cluster in turn; the informer's handlers see each step, annotated with
// the cluster, from the merged watch (no relist on the way).
func (f *fanout) checkEvents(ctx context.Context, r *checkRun) error {
	if f.inf == nil {
		return errors.New("not run: the informer did not start")
	}
	f.drainEvents()
	before := f.stats.snapshot()
	for _, c := range r.order {
		name := r.objectName(c.name)
		if err := f.create(ctx, r, c.name, name, "created"); err != nil {
			return err
		}
		if err := f.waitEvent(ctx, "add", c.name, name, "created"); err != nil {
			return err
		}
		if err := f.setStep(ctx, r, c.name, name, "updated"); err != nil {
			return err
		}
		if err := f.waitEvent(ctx, "update", c.name, name, "updated"); err != nil {
			return err
		}
		if err := f.remove(ctx, r, c.name, name); err != nil {
			return err
		}
		if err := f.waitEvent(ctx, "delete", c.name, name, ""); err != nil {
			return err
		}
	}
	if d := f.stats.snapshot().sub(before); d.relists() > 0 {
		return fmt.Errorf("the informer relisted during the check (%s): its events came from a relist, not only from the merged watch", d)
	}
	return f.converge(ctx, r, "after the events", eventTimeout)
}

// liveProbe creates one object directly in each cluster and waits for
// the add handlers, with no relist: the merged watch is relaying again.
func (f *fanout) liveProbe(ctx context.Context, r *checkRun, when string) error {
	f.drainEvents()
	before := f.stats.snapshot()
	for _, c := range r.order {
		name := r.objectName("live-" + c.name)
		if err := f.create(ctx, r, c.name, name, "live"); err != nil {
			return err
		}
		if err := f.waitEvent(ctx, "add", c.name, name, "live"); err != nil {
			return fmt.Errorf("%s, with the informer converged: %w", when, err)
		}
	}
	if d := f.stats.snapshot().sub(before); d.relists() > 0 {
		return fmt.Errorf("%s, the informer relisted again while adds were made in each cluster (%s): its watch is not relaying", when, d)
	}
	return nil
}

// cmdResult is how a shell command ended.
type cmdResult struct {
	err error
	out string
	dur time.Duration
}

func (c cmdResult) describe() string {
	out := strings.TrimSpace(c.out)
	if len(out) > 1500 {
		out = "..." + out[len(out)-1500:]
	}
	return fmt.Sprintf("%v after %s; output: %s", c.err, c.dur.Round(time.Millisecond), oneLine(out))
}

// startCommand runs script with sh -c in its own process group, killed
// (the whole group) when commandTimeout or ctx ends.
func startCommand(ctx context.Context, script string) <-chan cmdResult {
	done := make(chan cmdResult, 1)
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	cmd := exec.CommandContext(cctx, "sh", "-c", script)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	go func() {
		defer cancel()
		start := time.Now()
		err := cmd.Run()
		if err != nil && cctx.Err() != nil {
			err = fmt.Errorf("%w (killed: %v)", err, cctx.Err())
		}
		done <- cmdResult{err: err, out: out.String(), dur: time.Since(start)}
	}()
	return done
}

// checkRestart stops and starts one cluster's API server (--restart-cmd),
// writes to the other clusters while it is down and to all of them after,
// and expects the informer to converge and relay events again.
func (f *fanout) checkRestart(ctx context.Context, r *checkRun) error {
	if f.inf == nil {
		return errors.New("not run: the informer did not start")
	}
	if f.restartCmd == "" {
		return errors.New("not run: no --restart-cmd given")
	}
	down := f.restartCluster
	name := func(c, part string) string { return r.objectName(c + "-" + part) }
	for _, c := range r.order {
		for _, part := range []string{"keep", "mod", "del"} {
			if err := f.create(ctx, r, c.name, name(c.name, part), "created"); err != nil {
				return err
			}
		}
	}
	if err := f.converge(ctx, r, "before the restart", eventTimeout); err != nil {
		return err
	}
	before := f.stats.snapshot()

	r.logf("%s: running --restart-cmd", r.check)
	done := startCommand(ctx, f.restartCmd)
	var res cmdResult
	finished, sawDown := false, false
	probe := r.clusters[down].cs.CoreV1().Namespaces()
	for !finished && !sawDown {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := probe.Get(pctx, r.ns, metav1.GetOptions{})
		cancel()
		if err != nil {
			sawDown = true
			r.logf("%s: %s is down (%v)", r.check, down, err)
			break
		}
		select {
		case res = <-done:
			finished = true
		case <-time.After(downPoll):
		}
	}
	// While it is down, the other clusters change.
	var during error
	if sawDown {
		for _, c := range r.order {
			if c.name == down {
				continue
			}
			if during = f.create(ctx, r, c.name, name(c.name, "during"), "created"); during != nil {
				break
			}
			if during = f.setStep(ctx, r, c.name, name(c.name, "mod"), "during"); during != nil {
				break
			}
			if during = f.remove(ctx, r, c.name, name(c.name, "del")); during != nil {
				break
			}
		}
	}
	if !finished {
		res = <-done
	}
	if res.err != nil {
		return fmt.Errorf("--restart-cmd failed: %s", res.describe())
	}
	r.logf("%s: --restart-cmd done in %s", r.check, res.dur.Round(time.Millisecond))
	if !sawDown {
		return fmt.Errorf("--restart-cmd finished (in %s) but %s was never seen down while it ran; it must stop and start %s", res.dur.Round(time.Millisecond), down, down)
	}
	if during != nil {
		return fmt.Errorf("while %s was down: %w", down, during)
	}

	// After: the restarted cluster changes too, and the others again.
	if err := f.create(ctx, r, down, name(down, "after"), "created"); err != nil {
		return err
	}
	if err := f.setStep(ctx, r, down, name(down, "mod"), "after"); err != nil {
		return err
	}
	if err := f.remove(ctx, r, down, name(down, "del")); err != nil {
		return err
	}
	for _, c := range r.order {
		if c.name != down {
			if err := f.setStep(ctx, r, c.name, name(c.name, "keep"), "after"); err != nil {
				return err
			}
		}
	}
	if err := f.converge(ctx, r, "after "+down+" restarted", convergeTimeout); err != nil {
		return err
	}
	d := f.stats.snapshot().sub(before)
	if err := f.liveProbe(ctx, r, "after "+down+" restarted"); err != nil {
		return err
	}
	r.note = fmt.Sprintf("%s restarted; informer meanwhile: %s", down, d)
	return nil
}

// checkExpire runs --expire-cmd, after which the informer's version of a
// cluster cannot be resumed; the informer must relist (counted through its
// ListWatch) and converge, and its watch relay events again.
func (f *fanout) checkExpire(ctx context.Context, r *checkRun) error {
	if f.inf == nil {
		return errors.New("not run: the informer did not start")
	}
	if f.expireCmd == "" {
		return errors.New("not run: no --expire-cmd given")
	}
	name := func(c, part string) string { return r.objectName(c + "-" + part) }
	for _, c := range r.order {
		for _, part := range []string{"mod", "del"} {
			if err := f.create(ctx, r, c.name, name(c.name, part), "created"); err != nil {
				return err
			}
		}
	}
	if err := f.converge(ctx, r, "before --expire-cmd", eventTimeout); err != nil {
		return err
	}
	before := f.stats.snapshot()

	r.logf("%s: running --expire-cmd", r.check)
	res := <-startCommand(ctx, f.expireCmd)
	if res.err != nil {
		return fmt.Errorf("--expire-cmd failed: %s", res.describe())
	}
	r.logf("%s: --expire-cmd done in %s", r.check, res.dur.Round(time.Millisecond))

	for _, c := range r.order {
		if err := f.create(ctx, r, c.name, name(c.name, "after"), "created"); err != nil {
			return err
		}
		if err := f.setStep(ctx, r, c.name, name(c.name, "mod"), "after"); err != nil {
			return err
		}
		if err := f.remove(ctx, r, c.name, name(c.name, "del")); err != nil {
			return err
		}
	}
	if err := f.converge(ctx, r, "after --expire-cmd", convergeTimeout); err != nil {
		return err
	}
	d := f.stats.snapshot().sub(before)
	if d.relists() == 0 {
		return fmt.Errorf("the informer converged after --expire-cmd without relisting (%s): a version etcd compacted away cannot have been resumed, so the merged watch must have ended with a 410 (or failed) and the informer listed again", d)
	}
	if err := f.liveProbe(ctx, r, "after the relist"); err != nil {
		return err
	}
	r.note = fmt.Sprintf("relisted %d time(s) after --expire-cmd: %s", d.relists(), d)
	return nil
}

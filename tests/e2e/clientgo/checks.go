package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// allChecks run in this order; every check after setup needs the namespace.
var allChecks = []check{
	{"setup", checkSetup},
	{"crud", checkCRUD},
	{"protobuf", checkProtobuf},
	{"watch", checkWatch},
	{"informer", checkInformer},
	{"errors", checkErrors},
}

// checkSetup creates the namespace directly in every cluster. The test
// clusters run no namespace controller, so a namespace left Terminating by
// an earlier delete never goes away; that is reported rather than waited on.
func checkSetup(ctx context.Context, r *checkRun) error {
	for _, c := range r.order {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.ns}}
		_, err := c.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s directly in %s: %w", r.ns, c.name, err)
		}
		got, err := c.cs.CoreV1().Namespaces().Get(ctx, r.ns, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get namespace %s directly from %s: %w", r.ns, c.name, err)
		}
		if got.Status.Phase == corev1.NamespaceTerminating {
			return fmt.Errorf("namespace %s is Terminating in %s (the test clusters have no namespace controller to finish it); use a new namespace name", r.ns, c.name)
		}
	}
	return nil
}

var crudTargets = []string{"east", "west", "home"}

// checkCRUD creates, reads, updates, patches, lists and deletes ConfigMaps
// for each cluster through the sidecar and checks every step directly.
func checkCRUD(ctx context.Context, r *checkRun) error {
	sc, err := r.sidecarClient(encodingJSON, callTimeout)
	if err != nil {
		return err
	}
	cms := sc.CoreV1().ConfigMaps(r.ns)
	names := map[string]string{}
	uids := map[string]types.UID{}

	for _, target := range crudTargets {
		name := r.objectName(target)
		names[target] = name
		r.track(name)
		created, err := cms.Create(ctx, r.newConfigMap(name, target), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create %s configmap %s through the sidecar: %w", target, name, err)
		}
		if created.Name != name || created.UID == "" {
			return fmt.Errorf("create %s through the sidecar returned name %q uid %q", name, created.Name, created.UID)
		}
		uids[target] = created.UID
		r.logf("crud: created %s (uid %s)", name, created.UID)
	}

	for _, target := range crudTargets {
		name := names[target]
		direct, err := r.expectPlacement(ctx, name, target)
		if err != nil {
			return fmt.Errorf("after create: %w", err)
		}
		if direct.UID != uids[target] {
			return fmt.Errorf("after create: %s in %s has uid %s, the sidecar's create returned uid %s", name, target, direct.UID, uids[target])
		}
	}

	// Get by name: the request has no body, so the sidecar must locate the
	// object (placement index or asking the candidate clusters).
	for _, target := range crudTargets {
		name := names[target]
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get %s configmap %s through the sidecar: %w", target, name, err)
		}
		if got.UID != uids[target] || got.Data["target"] != target {
			return fmt.Errorf("get %s through the sidecar returned uid %s data %v, want uid %s (the %s copy)", name, got.UID, got.Data, uids[target], target)
		}
	}

	// Update (PUT with the full object, labels included).
	{
		name := names["east"]
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get %s through the sidecar before update: %w", name, err)
		}
		got.Data["step"] = "updated"
		updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update %s through the sidecar: %w", name, err)
		}
		if updated.Data["step"] != "updated" {
			return fmt.Errorf("update %s through the sidecar returned data %v", name, updated.Data)
		}
		direct, err := r.expectPlacement(ctx, name, "east")
		if err != nil {
			return fmt.Errorf("after update: %w", err)
		}
		if direct.Data["step"] != "updated" || direct.ResourceVersion != updated.ResourceVersion {
			return fmt.Errorf("after update: %s in east has data %v resourceVersion %s, want step=updated resourceVersion %s", name, direct.Data, direct.ResourceVersion, updated.ResourceVersion)
		}
	}

	// Patches carry no labels, so the sidecar must locate the object for
	// each of them.
	for _, p := range []struct {
		kind types.PatchType
		key  string
	}{
		{types.MergePatchType, "merge"},
		{types.StrategicMergePatchType, "strategic"},
	} {
		for _, target := range crudTargets {
			name := names[target]
			body := fmt.Sprintf(`{"data":{%q:%q}}`, p.key, target)
			patched, err := cms.Patch(ctx, name, p.kind, []byte(body), metav1.PatchOptions{})
			if err != nil {
				return fmt.Errorf("%s patch of %s through the sidecar: %w", p.kind, name, err)
			}
			if patched.Data[p.key] != target {
				return fmt.Errorf("%s patch of %s through the sidecar returned data %v", p.kind, name, patched.Data)
			}
			direct, err := r.expectPlacement(ctx, name, target)
			if err != nil {
				return fmt.Errorf("after %s patch: %w", p.kind, err)
			}
			if direct.Data[p.key] != target || direct.Data["target"] != target {
				return fmt.Errorf("after %s patch: %s in %s has data %v, want %s=%s and the earlier keys kept", p.kind, name, target, direct.Data, p.key, target)
			}
		}
	}

	// List by label selector: routed by the selector to west; the result
	// must be exactly what west itself returns for that selector.
	{
		sel := metav1.ListOptions{LabelSelector: routeLabel + "=west"}
		list, err := cms.List(ctx, sel)
		if err != nil {
			return fmt.Errorf("list configmaps with %s through the sidecar: %w", sel.LabelSelector, err)
		}
		var got []string
		for _, item := range list.Items {
			if item.Labels[routeLabel] != "west" {
				return fmt.Errorf("list with %s through the sidecar returned %s labelled %v", sel.LabelSelector, item.Name, item.Labels)
			}
			got = append(got, item.Name)
		}
		sort.Strings(got)
		if !slices.Contains(got, names["west"]) {
			return fmt.Errorf("list with %s through the sidecar returned %v, missing %s", sel.LabelSelector, got, names["west"])
		}
		for _, target := range []string{"east", "home"} {
			if slices.Contains(got, names[target]) {
				return fmt.Errorf("list with %s through the sidecar returned %s (the %s configmap)", sel.LabelSelector, names[target], target)
			}
		}
		directList, err := r.clusters["west"].cs.CoreV1().ConfigMaps(r.ns).List(ctx, sel)
		if err != nil {
			return fmt.Errorf("list configmaps with %s directly from west: %w", sel.LabelSelector, err)
		}
		var want []string
		for _, item := range directList.Items {
			want = append(want, item.Name)
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("list with %s through the sidecar returned %v, west itself has %v", sel.LabelSelector, got, want)
		}
	}

	for _, target := range crudTargets {
		name := names[target]
		if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete %s configmap %s through the sidecar: %w", target, name, err)
		}
		if err := r.expectGone(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// checkProtobuf writes and reads with the Kubernetes protobuf encoding, so
// the sidecar must read routing labels from the protobuf envelope and pass
// protobuf responses through.
func checkProtobuf(ctx context.Context, r *checkRun) error {
	cs, err := r.sidecarClient(encodingProtobuf, callTimeout)
	if err != nil {
		return err
	}
	cms := cs.CoreV1().ConfigMaps(r.ns)

	name := r.objectName("east")
	r.track(name)
	created, err := cms.Create(ctx, r.newConfigMap(name, "east"), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create %s (protobuf) through the sidecar: %w", name, err)
	}
	got, err := cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get %s (protobuf) through the sidecar: %w", name, err)
	}
	if got.UID != created.UID || got.Labels[routeLabel] != "east" || got.Data["target"] != "east" {
		return fmt.Errorf("get %s (protobuf) returned uid %s labels %v data %v, want uid %s", name, got.UID, got.Labels, got.Data, created.UID)
	}
	direct, err := r.expectPlacement(ctx, name, "east")
	if err != nil {
		return err
	}
	if direct.UID != created.UID {
		return fmt.Errorf("%s in east has uid %s, the sidecar's create returned %s", name, direct.UID, created.UID)
	}

	// Assert the wire format, so a sidecar that quietly re-encodes to JSON
	// (or a client that fell back to it) does not pass as protobuf.
	for _, x := range r.wire.exchanges() {
		switch x.method {
		case "POST":
			if !strings.HasPrefix(x.reqType, protobufType) {
				return fmt.Errorf("create was sent as %q, not protobuf", x.reqType)
			}
			fallthrough
		case "GET":
			if !strings.HasPrefix(x.respType, protobufType) {
				return fmt.Errorf("sidecar answered %s %s with content type %q, want %s (the target's protobuf passed through)", x.method, x.path, x.respType, protobufType)
			}
		}
	}

	if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s (protobuf) through the sidecar: %w", name, err)
	}
	return r.expectGone(ctx, name)
}

// nextEvent waits up to eventTimeout for an event of type want about
// ConfigMap name, skipping events about other objects and bookmarks.
func nextEvent(ctx context.Context, w watch.Interface, name string, want watch.EventType) (*corev1.ConfigMap, error) {
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s of %s: %w", want, name, ctx.Err())
		case <-timer.C:
			return nil, fmt.Errorf("no %s event for %s within %s", want, name, eventTimeout)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watch ended while waiting for %s of %s", want, name)
			}
			if ev.Type == watch.Error {
				return nil, fmt.Errorf("watch error while waiting for %s of %s: %v", want, name, apierrors.FromObject(ev.Object))
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			cm, isCM := ev.Object.(*corev1.ConfigMap)
			if !isCM {
				return nil, fmt.Errorf("watch sent %s with a %T", ev.Type, ev.Object)
			}
			if cm.Labels[routeLabel] != "east" {
				return nil, fmt.Errorf("watch with %s=east sent %s for %s labelled %v", routeLabel, ev.Type, cm.Name, cm.Labels)
			}
			if cm.Name != name {
				continue
			}
			if ev.Type != want {
				return nil, fmt.Errorf("watch sent %s for %s, want %s", ev.Type, name, want)
			}
			return cm, nil
		}
	}
}

// checkWatch follows one ConfigMap's life through a label-selected watch.
func checkWatch(ctx context.Context, r *checkRun) error {
	stream, err := r.sidecarClient(encodingJSON, 0)
	if err != nil {
		return err
	}
	sc, err := r.sidecarClient(encodingJSON, callTimeout)
	if err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: routeLabel + "=east"}
	w, err := stream.CoreV1().ConfigMaps(r.ns).Watch(ctx, sel)
	if err != nil {
		return fmt.Errorf("watch configmaps with %s through the sidecar: %w", sel.LabelSelector, err)
	}
	defer w.Stop()

	cms := sc.CoreV1().ConfigMaps(r.ns)
	name := r.objectName("east")
	r.track(name)
	created, err := cms.Create(ctx, r.newConfigMap(name, "east"), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create %s through the sidecar: %w", name, err)
	}
	added, err := nextEvent(ctx, w, name, watch.Added)
	if err != nil {
		return err
	}
	if added.UID != created.UID {
		return fmt.Errorf("ADDED for %s has uid %s, the create returned %s", name, added.UID, created.UID)
	}
	if _, err := r.expectPlacement(ctx, name, "east"); err != nil {
		return err
	}

	created.Data["step"] = "updated"
	updated, err := cms.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update %s through the sidecar: %w", name, err)
	}
	modified, err := nextEvent(ctx, w, name, watch.Modified)
	if err != nil {
		return err
	}
	if modified.Data["step"] != "updated" || modified.ResourceVersion != updated.ResourceVersion {
		return fmt.Errorf("MODIFIED for %s has data %v resourceVersion %s, want step=updated resourceVersion %s", name, modified.Data, modified.ResourceVersion, updated.ResourceVersion)
	}

	if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s through the sidecar: %w", name, err)
	}
	if _, err := nextEvent(ctx, w, name, watch.Deleted); err != nil {
		return err
	}
	return r.expectGone(ctx, name)
}

type informerEvent struct {
	kind string // "add", "update", "delete"
	cm   *corev1.ConfigMap
}

// checkInformer runs a label-filtered SharedInformerFactory through the
// sidecar. client-go 0.37 informers start with a streaming watch-list
// (sendInitialEvents=true, ending at a bookmark annotated
// k8s.io/initial-events-end) and fall back to list+watch if that fails.
func checkInformer(ctx context.Context, r *checkRun) error {
	// The informer keeps client-go's default encoding: this is the path an
	// unmodified controller takes.
	cs, err := r.sidecarClient(encodingDefault, 0)
	if err != nil {
		return err
	}
	sc, err := r.sidecarClient(encodingJSON, callTimeout)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithNamespace(r.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = routeLabel + "=west" }))
	cmInformer := factory.Core().V1().ConfigMaps()
	inf := cmInformer.Informer()

	events := make(chan informerEvent, 256)
	send := func(kind string, obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			select {
			case events <- informerEvent{kind, cm}:
			default: // never block the informer; the check fails on a missed event anyway
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { send("add", obj) },
		UpdateFunc: func(_, obj any) { send("update", obj) },
		DeleteFunc: func(obj any) { send("delete", obj) },
	}); err != nil {
		return fmt.Errorf("add event handler: %w", err)
	}
	watchErrs := make(chan error, 16)
	if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		select {
		case watchErrs <- err:
		default:
		}
	}); err != nil {
		return fmt.Errorf("set watch error handler: %w", err)
	}
	lastWatchErr := func() string {
		var last error
		for {
			select {
			case err := <-watchErrs:
				last = err
			default:
				if last == nil {
					return ""
				}
				return "; last list/watch error: " + last.Error()
			}
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		factory.Shutdown()
	}()
	factory.StartWithContext(runCtx)

	syncCtx, cancelSync := context.WithTimeout(ctx, 2*eventTimeout)
	res := factory.WaitForCacheSyncWithContext(syncCtx)
	cancelSync()
	if err := res.AsError(); err != nil {
		return fmt.Errorf("informer cache did not sync through the sidecar: %v%s", err, lastWatchErr())
	}
	mode := "list+watch"
	for _, x := range r.wire.exchanges() {
		if strings.Contains(x.query, "sendInitialEvents=true") && x.status == 200 {
			mode = "streaming watch-list (sendInitialEvents=true)"
		}
	}
	r.logf("informer: synced using %s; requests: %s", mode, summarise(r.wire.exchanges(), 4))

	wait := func(kind, name string) error {
		timer := time.NewTimer(eventTimeout)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s handler for %s: %w", kind, name, ctx.Err())
			case <-timer.C:
				return fmt.Errorf("%s handler did not fire for %s within %s%s", kind, name, eventTimeout, lastWatchErr())
			case ev := <-events:
				if ev.cm.Labels[routeLabel] != "west" {
					return fmt.Errorf("informer with %s=west saw %s of %s labelled %v", routeLabel, ev.kind, ev.cm.Name, ev.cm.Labels)
				}
				if ev.cm.Name == name && ev.kind == kind {
					return nil
				}
			}
		}
	}

	cms := sc.CoreV1().ConfigMaps(r.ns)
	name := r.objectName("west")
	r.track(name)
	created, err := cms.Create(ctx, r.newConfigMap(name, "west"), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create %s through the sidecar: %w", name, err)
	}
	if err := wait("add", name); err != nil {
		return err
	}
	cached, err := cmInformer.Lister().ConfigMaps(r.ns).Get(name)
	if err != nil || cached.UID != created.UID {
		return fmt.Errorf("informer cache after add: %v (uid %v, want %s)", err, uidOf(cached), created.UID)
	}
	if _, err := r.expectPlacement(ctx, name, "west"); err != nil {
		return err
	}

	if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s through the sidecar: %w", name, err)
	}
	if err := wait("delete", name); err != nil {
		return err
	}
	if _, err := cmInformer.Lister().ConfigMaps(r.ns).Get(name); !apierrors.IsNotFound(err) {
		return fmt.Errorf("informer cache still has %s after its delete handler fired (err %v)", name, err)
	}
	return r.expectGone(ctx, name)
}

func uidOf(cm *corev1.ConfigMap) types.UID {
	if cm == nil {
		return ""
	}
	return cm.UID
}

// checkErrors asserts the sidecar returns the API server's Status errors in
// a form client-go decodes: NotFound for an object that exists nowhere,
// AlreadyExists for a duplicate create, Conflict for a stale update.
func checkErrors(ctx context.Context, r *checkRun) error {
	sc, err := r.sidecarClient(encodingJSON, callTimeout)
	if err != nil {
		return err
	}
	cms := sc.CoreV1().ConfigMaps(r.ns)

	missing := r.objectName("missing")
	_, err = cms.Get(ctx, missing, metav1.GetOptions{})
	if err := expectStatus(err, "get of missing "+missing, apierrors.IsNotFound, 404, metav1.StatusReasonNotFound); err != nil {
		return err
	}
	var se *apierrors.StatusError
	errors.As(err, &se)
	if d := se.ErrStatus.Details; d == nil || d.Name != missing || d.Kind != "configmaps" {
		return fmt.Errorf("NotFound for %s has details %+v, want name %s kind configmaps as the API server says", missing, d, missing)
	}
	err = cms.Delete(ctx, missing, metav1.DeleteOptions{})
	if err := expectStatus(err, "delete of missing "+missing, apierrors.IsNotFound, 404, metav1.StatusReasonNotFound); err != nil {
		return err
	}

	name := r.objectName("east")
	r.track(name)
	created, err := cms.Create(ctx, r.newConfigMap(name, "east"), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create %s through the sidecar: %w", name, err)
	}
	_, err = cms.Create(ctx, r.newConfigMap(name, "east"), metav1.CreateOptions{})
	if err := expectStatus(err, "second create of "+name, apierrors.IsAlreadyExists, 409, metav1.StatusReasonAlreadyExists); err != nil {
		return err
	}

	fresh := created.DeepCopy()
	fresh.Data["step"] = "updated"
	if _, err := cms.Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update %s through the sidecar: %w", name, err)
	}
	stale := created.DeepCopy() // still carries the old resourceVersion
	stale.Data["step"] = "stale"
	_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
	if err := expectStatus(err, "update of "+name+" with a stale resourceVersion", apierrors.IsConflict, 409, metav1.StatusReasonConflict); err != nil {
		return err
	}
	direct, err := r.expectPlacement(ctx, name, "east")
	if err != nil {
		return err
	}
	if direct.Data["step"] != "updated" {
		return fmt.Errorf("%s in east has data %v after the refused stale update, want step=updated", name, direct.Data)
	}

	if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s through the sidecar: %w", name, err)
	}
	return r.expectGone(ctx, name)
}

// expectStatus checks that err is a *StatusError that is(err) accepts,
// with the given code and reason.
func expectStatus(err error, what string, is func(error) bool, code int32, reason metav1.StatusReason) error {
	if err == nil {
		return fmt.Errorf("%s through the sidecar succeeded, want %s", what, reason)
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return fmt.Errorf("%s through the sidecar failed with %T %v, want a StatusError %s", what, err, err, reason)
	}
	st := se.ErrStatus
	if !is(err) || st.Code != code || st.Reason != reason {
		return fmt.Errorf("%s through the sidecar returned code %d reason %q (%s), want %d %s", what, st.Code, st.Reason, st.Message, code, reason)
	}
	return nil
}

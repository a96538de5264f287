package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// defaultNames are the clusters MCA's docs and tests talk about.
var defaultNames = []string{"home", "east", "west"}

// The issuer is the in-cluster default; each cluster still has its own
// signing key, so one cluster's tokens are rejected by the others.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

type upOptions struct {
	dir      string
	binDir   string
	clusters int
	names    []string
	basePort int
	etcdPort int
	timeout  time.Duration
}

func clusterNames(n int, explicit string) ([]string, error) {
	if explicit != "" {
		names := strings.Split(explicit, ",")
		if len(names) != n {
			return nil, fmt.Errorf("--names lists %d clusters but --clusters is %d", len(names), n)
		}
		seen := map[string]bool{}
		for _, name := range names {
			if !validName(name) {
				return nil, fmt.Errorf("cluster name %q is not a DNS label (lower-case letters, digits, '-')", name)
			}
			if seen[name] {
				return nil, fmt.Errorf("cluster name %q appears twice in --names", name)
			}
			seen[name] = true
		}
		return names, nil
	}
	names := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i < len(defaultNames) {
			names = append(names, defaultNames[i])
		} else {
			names = append(names, fmt.Sprintf("cluster-%d", i+1))
		}
	}
	return names, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func parseUp(args []string) (*upOptions, error) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	o := &upOptions{}
	var names string
	fs.StringVar(&o.dir, "dir", "", "directory for certificates, kubeconfigs, logs and etcd data (required)")
	fs.StringVar(&o.binDir, "bin-dir", "", "directory holding kube-apiserver and kubectl")
	fs.IntVar(&o.clusters, "clusters", 3, "number of API servers")
	fs.StringVar(&names, "names", "", "comma-separated cluster names (default home,east,west,cluster-4,...)")
	fs.IntVar(&o.basePort, "base-port", 0, "first API server port; cluster i listens on base+i (default: free ports)")
	fs.IntVar(&o.etcdPort, "etcd-port", 0, "etcd client port; the peer port is the next one (default: free ports)")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Second, "how long to wait for every /readyz")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.dir == "" {
		return nil, errors.New("up needs --dir DIR")
	}
	if o.clusters < 1 || o.clusters > 16 {
		return nil, fmt.Errorf("--clusters %d is out of range; use 1 to 16", o.clusters)
	}
	var err error
	if o.names, err = clusterNames(o.clusters, names); err != nil {
		return nil, err
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return nil, err
	}
	if o.binDir == "" {
		return nil, errors.New("up needs --bin-dir (run it through hack/testenv, which builds the binaries)")
	}
	for _, bin := range []string{"kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.binDir, bin)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s; run hack/testenv build", bin, o.binDir)
		}
	}
	return o, nil
}

// portInUse reports whether something already listens on 127.0.0.1:port.
func portInUse(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// freePorts asks the kernel for n distinct free ports. They are free when
// returned; the small race until the servers bind them is reported by the
// server's own "address already in use" if it is ever lost.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free port on 127.0.0.1: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func allocatePorts(o *upOptions) (etcdClient, etcdPeer int, api []int, err error) {
	free, err := freePorts(2 + len(o.names))
	if err != nil {
		return 0, 0, nil, err
	}
	etcdClient, etcdPeer = free[0], free[1]
	if o.etcdPort != 0 {
		etcdClient, etcdPeer = o.etcdPort, o.etcdPort+1
		for _, p := range []int{etcdClient, etcdPeer} {
			if portInUse(p) {
				return 0, 0, nil, fmt.Errorf("port 127.0.0.1:%d (etcd) is already in use; stop what holds it (ss -ltnp 'sport = :%d') or pass another --etcd-port", p, p)
			}
		}
	}
	api = free[2:]
	if o.basePort != 0 {
		for i, name := range o.names {
			p := o.basePort + i
			if portInUse(p) {
				return 0, 0, nil, fmt.Errorf("port 127.0.0.1:%d (cluster %s) is already in use; stop what holds it (ss -ltnp 'sport = :%d') or pass another --base-port", p, name, p)
			}
			api[i] = p
		}
	}
	return etcdClient, etcdPeer, api, nil
}

func runUp(args []string) error {
	o, err := parseUp(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	st, err := loadState(o.dir)
	if err != nil {
		return err
	}
	if anyAlive(st.Procs) {
		return fmt.Errorf("a testenv is already running in %s; run hack/testenv down --dir %s first", o.dir, o.dir)
	}
	// Leftovers of an earlier run: stale certificates or etcd data would
	// make this run disagree with itself.
	for _, p := range []string{"etcd", "clusters.json", "kubeconfig", "state.json"} {
		os.RemoveAll(filepath.Join(o.dir, p))
	}
	for _, name := range o.names {
		os.RemoveAll(filepath.Join(o.dir, name))
	}

	etcdClient, etcdPeer, ports, err := allocatePorts(o)
	if err != nil {
		return err
	}

	start := time.Now()
	st = &state{}
	fail := func(err error) error {
		if stuck := stopAll(st.Procs, 10*time.Second); len(stuck) > 0 {
			return fmt.Errorf("%v; and could not stop %s", err, strings.Join(stuck, ", "))
		}
		os.Remove(statePath(o.dir))
		return err
	}

	clusters := make([]Cluster, len(o.names))
	for i, name := range o.names {
		c, err := writeClusterFiles(o.dir, name, ports[i])
		if err != nil {
			return fmt.Errorf("writing certificates for %s: %w", name, err)
		}
		clusters[i] = c
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	etcdDir := filepath.Join(o.dir, "etcd")
	etcdLog := filepath.Join(o.dir, "etcd.log")
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	if err := spawn(st, o.dir, "etcd", etcdDir, etcdLog, self, "etcd",
		"--data-dir", etcdDir,
		"--client-port", fmt.Sprint(etcdClient),
		"--peer-port", fmt.Sprint(etcdPeer)); err != nil {
		return fail(err)
	}
	if err := waitEtcd(st.Procs[0], etcdURL, etcdLog, 60*time.Second); err != nil {
		return fail(err)
	}

	for i, c := range clusters {
		cdir := filepath.Join(o.dir, c.Name)
		args := []string{
			"--etcd-servers=" + etcdURL,
			"--etcd-prefix=/clusters/" + c.Name,
			// Compaction is global across the prefixes; tests that need a
			// 410 compact on purpose.
			"--etcd-compaction-interval=0",
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			fmt.Sprintf("--secure-port=%d", ports[i]),
			"--cert-dir=" + cdir,
			"--tls-cert-file=" + filepath.Join(cdir, "serving.crt"),
			"--tls-private-key-file=" + filepath.Join(cdir, "serving.key"),
			"--client-ca-file=" + c.CAFile,
			"--token-auth-file=" + filepath.Join(cdir, "tokens.csv"),
			"--authorization-mode=RBAC",
			"--service-account-issuer=" + serviceAccountIssuer,
			"--service-account-key-file=" + filepath.Join(cdir, "sa.pub"),
			"--service-account-signing-key-file=" + filepath.Join(cdir, "sa.key"),
			"--service-cluster-ip-range=10.0.0.0/24",
			// With no controllers, 127.0.0.1 as the kubernetes endpoint
			// would fail validation, and no default ServiceAccounts exist.
			"--endpoint-reconciler-type=none",
			"--disable-admission-plugins=ServiceAccount",
			"--allow-privileged=true",
			"--profiling=false",
		}
		if err := spawn(st, o.dir, "kube-apiserver "+c.Name, cdir, c.LogFile,
			filepath.Join(o.binDir, "kube-apiserver"), args...); err != nil {
			return fail(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	errs := make(chan error, len(clusters))
	for i, c := range clusters {
		go func(p proc, c Cluster) { errs <- waitReady(ctx, p, c) }(st.Procs[i+1], c)
	}
	var firstErr error
	for range clusters {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	if firstErr != nil {
		return fail(firstErr)
	}

	merged := filepath.Join(o.dir, "kubeconfig")
	if err := writeKubeconfig(merged, clusters); err != nil {
		return fail(err)
	}
	out := ClustersFile{Clusters: clusters, Kubeconfig: merged, Etcd: etcdURL,
		Kubectl: filepath.Join(o.binDir, "kubectl")}
	if err := writeJSONAtomic(filepath.Join(o.dir, "clusters.json"), out); err != nil {
		return fail(err)
	}
	fmt.Printf("testenv: %d clusters ready in %.1fs (etcd %s)\n", len(clusters), time.Since(start).Seconds(), etcdURL)
	for _, c := range clusters {
		fmt.Printf("  %-10s %s  kubeconfig=%s\n", c.Name, c.Server, c.Kubeconfig)
	}
	fmt.Printf("  all contexts: KUBECONFIG=%s\n", merged)
	return nil
}

// spawn starts a detached process (own session, output to logPath) and
// records it in the state file before returning, so an interrupted "up"
// can still be cleaned by "down".
func spawn(st *state, dir, name, marker, logPath, bin string, args ...string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	// Reap it if it dies while "up" still runs; afterwards init does.
	go cmd.Wait()
	p := proc{Name: name, PID: cmd.Process.Pid, Marker: marker,
		Argv: append([]string{bin}, args...), Log: logPath}
	for i := range st.Procs {
		if st.Procs[i].Name == name {
			st.Procs[i] = p
			return st.save(dir)
		}
	}
	st.Procs = append(st.Procs, p)
	return st.save(dir)
}

// lastLogLine picks the line of a log most likely to say why a process died.
func lastLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-40; i-- {
		l := lines[i]
		if strings.Contains(l, "address already in use") || strings.HasPrefix(l, "E") ||
			strings.HasPrefix(l, "F") || strings.Contains(l, "Error:") || strings.Contains(l, "error") {
			return truncate(strings.TrimSpace(l), 300)
		}
	}
	return truncate(lines[len(lines)-1], 300)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func waitEtcd(p proc, url, logPath string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if !p.alive() {
			return fmt.Errorf("etcd exited: %s (log: %s)", lastLogLine(logPath), logPath)
		}
		resp, err := client.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("etcd not healthy within %v (log: %s)", timeout, logPath)
}

func waitReady(ctx context.Context, p proc, c Cluster) error {
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer client.CloseIdleConnections()
	for {
		if !p.alive() {
			return fmt.Errorf("kube-apiserver %s exited: %s (log: %s)", c.Name, lastLogLine(c.LogFile), c.LogFile)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Server+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("kube-apiserver %s not ready at %s/readyz in time; see %s or raise --timeout", c.Name, c.Server, c.LogFile)
			}
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// writeClusterFiles makes one cluster's CA, serving and admin certificates,
// static token and service-account keys, and its admin kubeconfig.
func writeClusterFiles(dir, name string, port int) (Cluster, error) {
	cdir := filepath.Join(dir, name)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return Cluster{}, err
	}
	ca, err := newCA("mca-testenv-" + name + "-ca")
	if err != nil {
		return Cluster{}, err
	}
	serving, err := newServingCert(ca, "kube-apiserver-"+name)
	if err != nil {
		return Cluster{}, err
	}
	admin, err := newClientCert(ca, "mca-admin", "system:masters")
	if err != nil {
		return Cluster{}, err
	}
	token, err := randomToken()
	if err != nil {
		return Cluster{}, err
	}
	files := map[string][]byte{
		"ca.crt":      ca.certPEM,
		"ca.key":      ca.keyPEM,
		"serving.crt": serving.certPEM,
		"serving.key": serving.keyPEM,
		"admin.crt":   admin.certPEM,
		"admin.key":   admin.keyPEM,
		"admin.token": []byte(token),
		// token,user,uid,"group1,group2"
		"tokens.csv": []byte(fmt.Sprintf("%s,mca-token-admin,mca-token-admin,\"system:masters\"\n", token)),
	}
	for f, b := range files {
		mode := os.FileMode(0o600)
		if strings.HasSuffix(f, ".crt") {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(cdir, f), b, mode); err != nil {
			return Cluster{}, err
		}
	}
	if err := writeServiceAccountKeys(filepath.Join(cdir, "sa.key"), filepath.Join(cdir, "sa.pub")); err != nil {
		return Cluster{}, err
	}
	c := Cluster{
		Name:                 name,
		Server:               fmt.Sprintf("https://127.0.0.1:%d", port),
		CAFile:               filepath.Join(cdir, "ca.crt"),
		Kubeconfig:           filepath.Join(cdir, "kubeconfig"),
		ClientCertFile:       filepath.Join(cdir, "admin.crt"),
		ClientKeyFile:        filepath.Join(cdir, "admin.key"),
		TokenFile:            filepath.Join(cdir, "admin.token"),
		ServiceAccountIssuer: serviceAccountIssuer,
		LogFile:              filepath.Join(cdir, "apiserver.log"),
	}
	return c, writeKubeconfig(c.Kubeconfig, []Cluster{c})
}

// writeKubeconfig writes an admin kubeconfig with one context per cluster
// (named after it), the first one current. Credentials are embedded so the
// file works when copied elsewhere.
func writeKubeconfig(path string, clusters []Cluster) error {
	b64 := func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return base64.StdEncoding.EncodeToString(b), err
	}
	var sb strings.Builder
	sb.WriteString("apiVersion: v1\nkind: Config\nclusters:\n")
	for _, c := range clusters {
		ca, err := b64(c.CAFile)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "- name: %s\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n", c.Name, c.Server, ca)
	}
	sb.WriteString("users:\n")
	for _, c := range clusters {
		crt, err := b64(c.ClientCertFile)
		if err != nil {
			return err
		}
		key, err := b64(c.ClientKeyFile)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "- name: %s-admin\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n", c.Name, crt, key)
	}
	sb.WriteString("contexts:\n")
	for _, c := range clusters {
		fmt.Fprintf(&sb, "- name: %s\n  context:\n    cluster: %s\n    user: %s-admin\n    namespace: default\n", c.Name, c.Name, c.Name)
	}
	fmt.Fprintf(&sb, "current-context: %s\n", clusters[0].Name)
	return os.WriteFile(path, []byte(sb.String()), 0o600)
}

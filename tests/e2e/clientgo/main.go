// Command clientgo-e2e drives real client-go code (typed clientset, JSON and
// protobuf encodings, watch, shared informers) through the MCA sidecar and
// checks with each cluster's own admin credentials that every request landed
// where the sidecar's routes say it should.
//
//	clientgo-e2e --kubeconfig SIDECAR_KUBECONFIG \
//	    --direct home=PATH --direct east=PATH --direct west=PATH \
//	    --namespace NS [--timeout 60s] [-v]
//
// Routes the test expects the sidecar to run with: ConfigMaps labelled
// cluster=east go to east, cluster=west to west, everything else to home.
//
// With --fanout it runs only the fan-out checks (fanout.go) instead: a
// SharedInformer on NS, whose ConfigMaps the sidecar must merge from home,
// east and west (a rule with targets: [home, east, west]):
//
//	clientgo-e2e --fanout --kubeconfig ... --direct ... --namespace NS \
//	    --restart-cmd 'SHELL COMMAND' [--restart-cluster east] \
//	    --expire-cmd 'SHELL COMMAND' [--timeout 60s] [-v]
//
// --restart-cmd stops and starts --restart-cluster's API server;
// --expire-cmd makes a cluster's watch position unresumable (e.g. stop it,
// advance and compact etcd, start it). Both run with sh -c; without them
// their checks fail as not run. A command killed by --timeout may leave
// the cluster stopped: the caller restarts it.
//
// Output: one line per check on stdout, "ok NAME" or "FAIL NAME: REASON".
// Exit status 0 when every check is ok, 1 when any failed, 2 on bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// directFlag collects repeated --direct NAME=KUBECONFIG arguments.
type directFlag map[string]string

func (d directFlag) String() string {
	parts := make([]string, 0, len(d))
	for name, path := range d {
		parts = append(parts, name+"="+path)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (d directFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=KUBECONFIG, got %q", v)
	}
	if _, dup := d[name]; dup {
		return fmt.Errorf("cluster %q given twice", name)
	}
	d[name] = path
	return nil
}

type options struct {
	kubeconfig string
	direct     directFlag
	namespace  string
	timeout    time.Duration
	verbose    bool

	// Fan-out mode (fanout.go).
	fanout         bool
	restartCmd     string
	restartCluster string
	expireCmd      string
}

// requiredClusters are the clusters the sidecar's test routes name; the
// placement checks need direct access to each of them.
var requiredClusters = []string{"home", "east", "west"}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{direct: directFlag{}}
	fs := flag.NewFlagSet("clientgo-e2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig that points at the sidecar (required)")
	fs.Var(o.direct, "direct", "NAME=KUBECONFIG of a cluster's direct admin access; repeat for home, east and west (required)")
	fs.StringVar(&o.namespace, "namespace", "", "namespace to work in; created directly in every cluster (required)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "deadline for all checks together (cleanup gets its own short deadline after it)")
	fs.BoolVar(&o.verbose, "v", false, "log each step to stderr")
	fs.BoolVar(&o.fanout, "fanout", false, "run only the fan-out checks: the sidecar merges NS's ConfigMaps from home, east and west")
	fs.StringVar(&o.restartCmd, "restart-cmd", "", "with --fanout: shell command (sh -c) that stops and starts --restart-cluster's API server")
	fs.StringVar(&o.restartCluster, "restart-cluster", "east", "with --fanout: the cluster --restart-cmd restarts")
	fs.StringVar(&o.expireCmd, "expire-cmd", "", "with --fanout: shell command (sh -c) after which the informer's version of a cluster cannot be resumed (410)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: clientgo-e2e --kubeconfig SIDECAR_KUBECONFIG --direct home=PATH --direct east=PATH --direct west=PATH --namespace NS [--timeout 60s] [-v]")
		fmt.Fprintln(stderr, "       clientgo-e2e --fanout [same flags] [--restart-cmd CMD] [--restart-cluster east] [--expire-cmd CMD]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.kubeconfig == "" {
		return o, errors.New("--kubeconfig is required")
	}
	if o.namespace == "" {
		return o, errors.New("--namespace is required")
	}
	for _, name := range requiredClusters {
		if o.direct[name] == "" {
			return o, fmt.Errorf("--direct %s=KUBECONFIG is required", name)
		}
	}
	if o.timeout <= 0 {
		return o, errors.New("--timeout must be positive")
	}
	if !o.fanout && (o.restartCmd != "" || o.expireCmd != "") {
		return o, errors.New("--restart-cmd and --expire-cmd need --fanout")
	}
	if o.fanout && !slices.Contains(requiredClusters, o.restartCluster) {
		return o, fmt.Errorf("--restart-cluster %q is not one of %s", o.restartCluster, strings.Join(requiredClusters, ", "))
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "clientgo-e2e: %v\n", err)
		return 2
	}

	logf := func(string, ...any) {}
	if opts.verbose {
		logf = func(format string, a ...any) {
			fmt.Fprintf(stderr, "clientgo-e2e: "+format+"\n", a...)
		}
	}

	checks := allChecks
	if opts.fanout {
		f := newFanout(opts)
		defer f.close(logf)
		checks = f.checks()
	}

	e, err := newEnv(opts, logf)
	if err != nil {
		// Without clients no check can run; report each so the harness sees
		// which were expected.
		for _, c := range checks {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", c.name, err)
		}
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	failed := false
	setupOK := true
	for _, c := range checks {
		var line string
		switch {
		case !setupOK:
			line = fmt.Sprintf("FAIL %s: not run: setup failed", c.name)
		case ctx.Err() != nil:
			line = fmt.Sprintf("FAIL %s: not run: --timeout %s used up by earlier checks", c.name, opts.timeout)
		default:
			line = e.runCheck(ctx, c)
		}
		fmt.Fprintln(stdout, line)
		if !strings.HasPrefix(line, "ok ") {
			failed = true
			if c.name == "setup" {
				setupOK = false
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

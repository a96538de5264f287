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
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: clientgo-e2e --kubeconfig SIDECAR_KUBECONFIG --direct home=PATH --direct east=PATH --direct west=PATH --namespace NS [--timeout 60s] [-v]")
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

	e, err := newEnv(opts, logf)
	if err != nil {
		// Without clients no check can run; report each so the harness sees
		// which were expected.
		for _, c := range allChecks {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", c.name, err)
		}
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	failed := false
	setupOK := true
	for _, c := range allChecks {
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

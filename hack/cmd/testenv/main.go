// Command testenv runs real Kubernetes API servers on loopback for MCA's
// integration and end-to-end tests: one embedded etcd and one upstream
// kube-apiserver process per cluster, each under its own --etcd-prefix, with
// its own CA, serving certificate, admin credentials and service-account keys.
//
// It is started by the hack/testenv wrapper, which builds kube-apiserver and
// kubectl from the pinned Kubernetes release and passes --bin-dir.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: testenv COMMAND [flags]

commands:
  up      --clusters N --dir DIR   start etcd and N API servers, wait for /readyz
  down    --dir DIR                stop everything "up" started in DIR
  status  --dir DIR                show each cluster and whether it is ready
  stop-cluster  --dir DIR --cluster NAME   stop one API server (simulate an outage)
  start-cluster --dir DIR --cluster NAME   start it again, as before; waits for /readyz
  compact --dir DIR                compact etcd at its current revision (old
                                   resourceVersions then get 410 Gone)
  etcd    --data-dir D --client-port P --peer-port Q   (internal) run embedded etcd

Run "testenv COMMAND --help" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = runUp(os.Args[2:])
	case "down":
		err = runDown(os.Args[2:])
	case "status":
		err = runStatus(os.Args[2:])
	case "etcd":
		err = runEtcd(os.Args[2:])
	case "stop-cluster":
		err = runStopCluster(os.Args[2:])
	case "start-cluster":
		err = runStartCluster(os.Args[2:])
	case "compact":
		err = runCompact(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "testenv: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		// One line naming the problem and the fix: callers (make, ctest,
		// people) read the last line first.
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
}

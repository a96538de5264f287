// bench-proxy-tool holds the parts of bench/proxy that are written in Go:
//
//	reverse-proxy    the design of MCA's Go prototype (httputil.ReverseProxy
//	                 that strips the client's identity and adds a bearer
//	                 token), the Go reference the sidecar is compared with
//	static-upstream  an HTTPS server that answers every request at once with
//	                 a fixed body, to expose a proxy's own cost
//	watch            a watch through a path while writers change objects
//	                 straight on the API server: events/s and delivery lag
//
// Only the standard library: nothing to download.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench-proxy-tool reverse-proxy|static-upstream|watch [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "reverse-proxy":
		err = runReverseProxy(os.Args[2:])
	case "static-upstream":
		err = runStaticUpstream(os.Args[2:])
	case "watch":
		err = runWatch(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (reverse-proxy, static-upstream or watch)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-proxy-tool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// The Go prototype's data path: every request to the one upstream, the
// client's Authorization and Impersonate-* headers replaced by the
// cluster's bearer token, responses streamed (watches) as they come.
func runReverseProxy(args []string) error {
	fs := flag.NewFlagSet("reverse-proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	cert := fs.String("cert", "", "serving certificate (PEM)")
	key := fs.String("key", "", "serving key (PEM)")
	upstream := fs.String("upstream", "", "upstream base URL, https://HOST:PORT")
	upstreamCA := fs.String("upstream-ca", "", "CA of the upstream's certificate")
	serverName := fs.String("upstream-server-name", "", "name to verify the upstream as (default: its host)")
	tokenFile := fs.String("token-file", "", "bearer token for the upstream")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("--upstream %q is not a URL", *upstream)
	}
	name := *serverName
	if name == "" {
		name = target.Hostname()
	}
	tlsConfig, err := clientTLS(*upstreamCA, name)
	if err != nil {
		return err
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	transport := &http.Transport{
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   false, // HTTP/1.1 keep-alive, as nginx and HAProxy here
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
			for h := range r.Out.Header {
				l := strings.ToLower(h)
				if l == "authorization" || strings.HasPrefix(l, "impersonate-") {
					r.Out.Header.Del(h)
				}
			}
			if token != "" {
				r.Out.Header.Set("Authorization", "Bearer "+token)
			}
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	return serveTLS(*listen, *cert, *key, proxy)
}

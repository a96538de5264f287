package main

import (
	"flag"
	"io"
	"net/http"
	"os"
	"strconv"
)

// Answers every request with 200 and the same body, at once.
func runStaticUpstream(args []string) error {
	fs := flag.NewFlagSet("static-upstream", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	cert := fs.String("cert", "", "serving certificate (PEM)")
	key := fs.String("key", "", "serving key (PEM)")
	bodyFile := fs.String("body", "", "the response body (JSON)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	return serveTLS(*listen, *cert, *key, h)
}

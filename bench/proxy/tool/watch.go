package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"
)

type watchEvent struct {
	Type   string `json:"type"`
	Object struct {
		Metadata struct {
			Name            string `json:"name"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	} `json:"object"`
}

type endpoint struct {
	base   string
	token  string
	client *http.Client
}

func newEndpoint(base, caFile, serverName, tokenFile string) (*endpoint, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a URL", base)
	}
	if serverName == "" {
		serverName = u.Hostname()
	}
	tlsConfig, err := clientTLS(caFile, serverName)
	if err != nil {
		return nil, err
	}
	token, err := readToken(tokenFile)
	if err != nil {
		return nil, err
	}
	return &endpoint{base: base, token: token, client: &http.Client{Transport: &http.Transport{
		TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false,
	}}}, nil
}

func (e *endpoint) do(method, path string, body []byte, contentType string) (*http.Response, error) {
	req, err := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	return e.client.Do(req)
}

func (e *endpoint) getJSON(path string, into any) error {
	resp, err := e.do("GET", path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// openWatch starts a watch and returns its body once the headers came.
func (e *endpoint) openWatch(collection, selector, version string) (io.ReadCloser, error) {
	path := collection + "?watch=1&resourceVersion=" + url.QueryEscape(version) +
		"&labelSelector=" + url.QueryEscape(selector)
	resp, err := e.do("GET", path, nil, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("watch %s: %d %s", path, resp.StatusCode, b)
	}
	return resp.Body, nil
}

func percentiles(ms []float64) map[string]float64 {
	out := map[string]float64{}
	if len(ms) == 0 {
		return out
	}
	sort.Float64s(ms)
	at := func(p float64) float64 {
		i := int(p*float64(len(ms))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(ms) {
			i = len(ms) - 1
		}
		return ms[i]
	}
	out["p50"], out["p90"], out["p99"], out["max"] = at(0.50), at(0.90), at(0.99), ms[len(ms)-1]
	return out
}

// runWatch: a watch through the path under test while writers PATCH the
// objects straight on the API server (live: events/s and the lag from each
// write's response to its event), then a second watch from the same
// starting version, whose backlog comes at once (replay: relay speed).
func runWatch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	pathURL := fs.String("url", "", "base URL of the path under test")
	pathCA := fs.String("ca", "", "CA of the path's serving certificate")
	pathName := fs.String("server-name", "", "name to verify the path as")
	pathToken := fs.String("token-file", "", "bearer token the client sends on the path (proxies strip it)")
	apiURL := fs.String("api", "", "the API server, for the writers")
	apiCA := fs.String("api-ca", "", "the API server's CA")
	apiToken := fs.String("api-token-file", "", "the writers' bearer token")
	namespace := fs.String("namespace", "", "namespace of the objects")
	objects := fs.Int("objects", 100, "ConfigMaps w-0..w-(N-1), labelled bench-watch=yes, created beforehand")
	events := fs.Int("events", 10000, "writes, and so events")
	writers := fs.Int("writers", 8, "concurrent writers")
	timeout := fs.Duration("timeout", time.Minute, "how long the events may lag the last write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path, err := newEndpoint(*pathURL, *pathCA, *pathName, *pathToken)
	if err != nil {
		return err
	}
	api, err := newEndpoint(*apiURL, *apiCA, "", *apiToken)
	if err != nil {
		return err
	}
	collection := "/api/v1/namespaces/" + *namespace + "/configmaps"
	const selector = "bench-watch=yes"
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := api.getJSON(collection+"?labelSelector="+url.QueryEscape(selector)+"&limit=1", &list); err != nil {
		return err
	}
	start := list.Metadata.ResourceVersion

	body, err := path.openWatch(collection, selector, start)
	if err != nil {
		return err
	}
	received := make(map[string]time.Time, *events)
	done := make(chan error, 1)
	var firstEvent, lastEvent time.Time
	go func() {
		defer body.Close()
		dec := json.NewDecoder(body)
		for len(received) < *events {
			var ev watchEvent
			if err := dec.Decode(&ev); err != nil {
				done <- fmt.Errorf("watch ended after %d of %d events: %v", len(received), *events, err)
				return
			}
			now := time.Now()
			if ev.Type == "ERROR" {
				done <- fmt.Errorf("watch ERROR event after %d events", len(received))
				return
			}
			if firstEvent.IsZero() {
				firstEvent = now
			}
			lastEvent = now
			received[ev.Object.Metadata.ResourceVersion] = now
		}
		done <- nil
	}()

	var mu sync.Mutex
	written := make(map[string]time.Time, *events)
	var wg sync.WaitGroup
	writeErr := make(chan error, *writers)
	writeStart := time.Now()
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < *events; i += *writers {
				patch := []byte(fmt.Sprintf(`{"data":{"seq":"%d"}}`, i+1)) // the objects start at "0": no write may be a no-op
				resp, err := api.do("PATCH", fmt.Sprintf("%s/w-%d", collection, i%*objects), patch,
					"application/merge-patch+json")
				if err != nil {
					writeErr <- err
					return
				}
				var obj watchEvent
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				now := time.Now()
				if resp.StatusCode != 200 {
					writeErr <- fmt.Errorf("PATCH: %d %s", resp.StatusCode, b)
					return
				}
				if err := json.Unmarshal(b, &obj.Object); err != nil {
					writeErr <- err
					return
				}
				mu.Lock()
				written[obj.Object.Metadata.ResourceVersion] = now
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	writeSeconds := time.Since(writeStart).Seconds()
	select {
	case err := <-writeErr:
		return err
	default:
	}
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-time.After(*timeout):
		return fmt.Errorf("timed out with %d of %d events", len(received), *events)
	}
	lags := make([]float64, 0, len(received))
	for rv, at := range received {
		if w, ok := written[rv]; ok {
			lags = append(lags, float64(at.Sub(w).Microseconds())/1000)
		}
	}
	liveSeconds := lastEvent.Sub(firstEvent).Seconds()

	// Replay: the same events again, all at once.
	replayStart := time.Now()
	body2, err := path.openWatch(collection, selector, start)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(body2)
	n := 0
	for n < *events {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			body2.Close()
			return fmt.Errorf("replay ended after %d of %d events: %v", n, *events, err)
		}
		n++
	}
	replaySeconds := time.Since(replayStart).Seconds()
	body2.Close()

	out := map[string]any{
		"live": map[string]any{
			"events":            len(received),
			"seconds":           liveSeconds,
			"events_per_second": float64(len(received)-1) / liveSeconds,
			"writes_per_second": float64(*events) / writeSeconds,
			"lag_ms":            percentiles(lags),
		},
		"replay": map[string]any{
			"events":            n,
			"seconds":           replaySeconds,
			"events_per_second": float64(n) / replaySeconds,
		},
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

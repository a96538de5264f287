package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func dirFlag(name string, args []string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	dir := fs.String("dir", "", "the directory given to up (required)")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if *dir == "" {
		return "", fmt.Errorf("%s needs --dir DIR", name)
	}
	return filepath.Abs(*dir)
}

func runDown(args []string) error {
	dir, err := dirFlag("down", args)
	if err != nil {
		return err
	}
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	running := 0
	for _, p := range st.Procs {
		if p.alive() {
			running++
		}
	}
	if stuck := stopAll(st.Procs, 15*time.Second); len(stuck) > 0 {
		return fmt.Errorf("could not stop %s", strings.Join(stuck, ", "))
	}
	os.Remove(statePath(dir))
	os.Remove(filepath.Join(dir, "clusters.json"))
	fmt.Printf("testenv: stopped %d processes in %s\n", running, dir)
	return nil
}

func runStatus(args []string) error {
	dir, err := dirFlag("status", args)
	if err != nil {
		return err
	}
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters.json")); errors.Is(err, os.ErrNotExist) && anyAlive(st.Procs) {
		return fmt.Errorf("processes run in %s but clusters.json is missing (an interrupted up?); run hack/testenv down --dir %s", dir, dir)
	}
	cf, err := loadClusters(dir)
	if err != nil {
		return err
	}
	alive := map[string]proc{}
	for _, p := range st.Procs {
		alive[p.Name] = p
	}
	etcd := "stopped"
	if p, ok := alive["etcd"]; ok && p.alive() {
		etcd = fmt.Sprintf("running (pid %d)", p.PID)
	}
	fmt.Printf("etcd       %s  %s\n", cf.Etcd, etcd)
	notReady := 0
	for _, c := range cf.Clusters {
		status := "stopped"
		if p, ok := alive["kube-apiserver "+c.Name]; ok && p.alive() {
			status = fmt.Sprintf("running (pid %d), %s", p.PID, readyz(c))
		}
		if !strings.Contains(status, "ready") || strings.Contains(status, "not ready") {
			notReady++
		}
		fmt.Printf("%-10s %s  %s\n", c.Name, c.Server, status)
	}
	if notReady > 0 {
		return fmt.Errorf("%d of %d clusters are not ready; see the logs in %s", notReady, len(cf.Clusters), dir)
	}
	return nil
}

func readyz(c Cluster) string {
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return "not ready (" + err.Error() + ")"
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 3 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(c.Server + "/readyz")
	if err != nil {
		return "not ready (" + err.Error() + ")"
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("not ready (/readyz %d)", resp.StatusCode)
	}
	return "ready"
}

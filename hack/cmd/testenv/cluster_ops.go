package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func clusterFlags(name string, args []string) (dir, cluster string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	d := fs.String("dir", "", "the directory given to up (required)")
	c := fs.String("cluster", "", "cluster name (required)")
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	if *d == "" || *c == "" {
		return "", "", fmt.Errorf("%s needs --dir DIR and --cluster NAME", name)
	}
	dir, err = filepath.Abs(*d)
	return dir, *c, err
}

func loadClusters(dir string) (*ClustersFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, "clusters.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("not running in %s; start it with hack/testenv up --dir %s (or make testenv-up)", dir, dir)
	}
	if err != nil {
		return nil, err
	}
	var cf ClustersFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %v", filepath.Join(dir, "clusters.json"), err)
	}
	return &cf, nil
}

func findProc(st *state, name string) (*proc, error) {
	for i := range st.Procs {
		if st.Procs[i].Name == name {
			return &st.Procs[i], nil
		}
	}
	return nil, fmt.Errorf("no process %q in this testenv", name)
}

func runStopCluster(args []string) error {
	dir, cluster, err := clusterFlags("stop-cluster", args)
	if err != nil {
		return err
	}
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	p, err := findProc(st, "kube-apiserver "+cluster)
	if err != nil {
		return err
	}
	if stuck := stopGroup([]proc{*p}, 15*time.Second); len(stuck) > 0 {
		return fmt.Errorf("could not stop %v", stuck)
	}
	fmt.Printf("testenv: stopped cluster %s\n", cluster)
	return nil
}

func runStartCluster(args []string) error {
	dir, cluster, err := clusterFlags("start-cluster", args)
	if err != nil {
		return err
	}
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	cf, err := loadClusters(dir)
	if err != nil {
		return err
	}
	var c *Cluster
	for i := range cf.Clusters {
		if cf.Clusters[i].Name == cluster {
			c = &cf.Clusters[i]
		}
	}
	if c == nil {
		return fmt.Errorf("no cluster %q in %s", cluster, dir)
	}
	p, err := findProc(st, "kube-apiserver "+cluster)
	if err != nil {
		return err
	}
	if p.alive() {
		return fmt.Errorf("cluster %s is already running (pid %d)", cluster, p.PID)
	}
	if len(p.Argv) == 0 {
		return fmt.Errorf("cluster %s was started by an older testenv; run down and up again", cluster)
	}
	if err := spawn(st, dir, p.Name, p.Marker, p.Log, p.Argv[0], p.Argv[1:]...); err != nil {
		return err
	}
	np, _ := findProc(st, "kube-apiserver "+cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := waitReady(ctx, *np, *c); err != nil {
		return err
	}
	fmt.Printf("testenv: cluster %s ready again at %s\n", cluster, c.Server)
	return nil
}

func runCompact(args []string) error {
	dir, err := dirFlag("compact", args)
	if err != nil {
		return err
	}
	cf, err := loadClusters(dir)
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cf.Etcd}, DialTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("connecting to etcd at %s: %w", cf.Etcd, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Any read returns the store's current revision in its header.
	resp, err := cli.Get(ctx, "compact-probe")
	if err != nil {
		return fmt.Errorf("reading etcd's revision: %w", err)
	}
	rev := resp.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return fmt.Errorf("compacting etcd at revision %d: %w", rev, err)
	}
	fmt.Printf("testenv: compacted etcd at revision %d\n", rev)
	return nil
}

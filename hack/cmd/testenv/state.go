package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is one API server as tests see it; clusters.json holds a list.
type Cluster struct {
	Name       string `json:"name"`
	Server     string `json:"server"`
	CAFile     string `json:"caFile"`
	Kubeconfig string `json:"kubeconfig"`
	// The admin identity in two forms: a client certificate (in system:masters)
	// and a static bearer token, so tests can exercise both credential kinds.
	ClientCertFile string `json:"clientCertFile"`
	ClientKeyFile  string `json:"clientKeyFile"`
	TokenFile      string `json:"tokenFile"`
	// Where the service-account tokens of this cluster are verified.
	ServiceAccountIssuer string `json:"serviceAccountIssuer"`
	LogFile              string `json:"logFile"`
}

// ClustersFile is DIR/clusters.json, the contract with the tests.
type ClustersFile struct {
	Clusters   []Cluster `json:"clusters"`
	Kubeconfig string    `json:"kubeconfig"` // every cluster as a context
	Etcd       string    `json:"etcd"`
	Kubectl    string    `json:"kubectl,omitempty"`
}

// proc is a process "up" started and "down" must stop.
type proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// A string the process's command line contains, so a recycled PID is
	// never mistaken for ours.
	Marker string `json:"marker"`
	// How to start it again (stop-cluster / start-cluster).
	Argv []string `json:"argv"`
	Log  string   `json:"log"`
}

// state is DIR/state.json, written as processes start so that "down" can
// clean up even after an interrupted "up".
type state struct {
	Procs []proc `json:"procs"`
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return &state{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v); remove it and stop leftover processes by hand", statePath(dir), err)
	}
	return &s, nil
}

func (s *state) save(dir string) error {
	return writeJSONAtomic(statePath(dir), s)
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// alive reports whether p still runs (and is ours, not a recycled PID).
func (p proc) alive() bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
	if err != nil {
		return false
	}
	if !strings.Contains(string(cmdline), p.Marker) {
		return false
	}
	// A zombie still has a cmdline only until reaped; treat it as gone.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// stopAll stops the API servers before etcd (reverse start order): an API
// server whose etcd vanished first spends its whole grace period retrying.
// It returns the names of processes that would not die.
func stopAll(procs []proc, grace time.Duration) []string {
	var servers, etcd []proc
	for _, p := range procs {
		if p.Name == "etcd" {
			etcd = append(etcd, p)
		} else {
			servers = append(servers, p)
		}
	}
	return append(stopGroup(servers, grace), stopGroup(etcd, grace)...)
}

// stopGroup sends SIGTERM to every live process, waits up to grace, then
// SIGKILLs what is left.
func stopGroup(procs []proc, grace time.Duration) []string {
	for _, p := range procs {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !anyAlive(procs) {
			waitReaped(procs, 5*time.Second)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range procs {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	waitReaped(procs, 5*time.Second)
	var stuck []string
	for _, p := range procs {
		if p.alive() {
			stuck = append(stuck, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
		}
	}
	return stuck
}

// waitReaped waits (bounded) until dead processes have been reaped by their
// parent (init, once "up" has exited), so that "down" returning means pgrep
// shows nothing, not even zombies.
func waitReaped(procs []proc, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for _, p := range procs {
		for time.Now().Before(deadline) {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p.PID)); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func anyAlive(procs []proc) bool {
	for _, p := range procs {
		if p.alive() {
			return true
		}
	}
	return false
}

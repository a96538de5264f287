package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// runEtcd runs one embedded etcd member until SIGTERM/SIGINT. It is its own
// process so that "up" can return while the clusters keep running.
func runEtcd(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "etcd data directory")
	clientPort := fs.Int("client-port", 0, "client port on 127.0.0.1")
	peerPort := fs.Int("peer-port", 0, "peer port on 127.0.0.1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || *clientPort == 0 || *peerPort == 0 {
		return fmt.Errorf("etcd needs --data-dir, --client-port and --peer-port")
	}

	cfg := embed.NewConfig()
	cfg.Name = "mca-testenv"
	cfg.Dir = *dataDir
	cfg.LogLevel = "warn"
	// Test data is thrown away with the directory; fsync only costs time.
	cfg.UnsafeNoFsync = true
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", *clientPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", *peerPort)}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	defer e.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		return fmt.Errorf("etcd was not ready within 60s")
	case s := <-sig:
		return fmt.Errorf("stopped by %v before ready", s)
	}
	select {
	case err := <-e.Err():
		return fmt.Errorf("etcd failed: %w", err)
	case <-sig:
		return nil
	}
}

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/berthdock/berth/cloud/collector"
)

// runServe is `collector serve [--config FILE] [flags]`: the collector with
// its upload endpoint, MQTT ingest (embedded broker unless --broker),
// analysis and alert deliveries. Flags override the file.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (deploy/cloud/collector.yaml); empty: embedded defaults")
	dataDir := fs.String("data", "", "data directory of the embedded defaults (default ./berth-collector)")
	dsn := fs.String("db", "", "store: SQLite file or postgres:// URL (default DATA/collector.db)")
	httpAddr := fs.String("http", "", "upload endpoint, /healthz and /metrics listen address (default 127.0.0.1:8780)")
	brokerURL := fs.String("broker", "", "external MQTT broker URL; empty: start the embedded broker")
	embedded := fs.String("embedded-broker", "", "embedded broker listen address (default 127.0.0.1:1883)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "collector serve: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	cfg := &collector.Config{}
	if *configPath != "" {
		var err error
		if cfg, err = collector.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "collector serve: %v\n", err)
			return 2
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.DataDir, *dataDir)
	set(&cfg.Store, *dsn)
	set(&cfg.HTTP, *httpAddr)
	set(&cfg.MQTT.Broker, *brokerURL)
	set(&cfg.MQTT.Embedded, *embedded)
	c, err := collector.New(ctx, *cfg, collector.Options{Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "collector serve: %v\n", err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(stdout, "collector: uploads at %s, MQTT %s, receipt key %s\n", c.UploadURL(), c.BrokerURL(), base64.StdEncoding.EncodeToString(c.PublicKey()))
	wctx, stopWatchdog := context.WithCancel(ctx)
	watchdogDone := make(chan struct{})
	go func() { defer close(watchdogDone); watchdog(wctx, c, log) }()
	err = c.Run(ctx)
	stopWatchdog()
	<-watchdogDone
	if err != nil {
		fmt.Fprintf(stderr, "collector serve: %v\n", err)
		return 1
	}
	return 0
}

// watchdog tells systemd (Type=notify, deploy/cloud/collector.service) the
// collector is ready once its listeners are bound and its store is open,
// then pets the watchdog at half its interval while the store answers
// (Collector.Healthy; a broker away is not a reason to restart: ingest
// reconnects by itself). Outside systemd (no NOTIFY_SOCKET) it does nothing.
func watchdog(ctx context.Context, c *collector.Collector, log *slog.Logger) {
	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify ready", "err", err)
	} else if !ok {
		return
	}
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		<-ctx.Done()
		daemon.SdNotify(false, daemon.SdNotifyStopping)
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			return
		case <-t.C:
			var he *collector.HealthError
			if err := c.Healthy(ctx); errors.As(err, &he) && he.Store {
				log.Error("unhealthy: not petting the watchdog", "err", err)
				continue
			}
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}

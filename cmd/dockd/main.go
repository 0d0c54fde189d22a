// Command dockd is the dock agent: it runs every slot of the board (power,
// presence, LED, the recorder's DockLink session), copies footage into the
// encrypted badger buffer, uploads it to the collector, releases it on the
// recorder only with the collector's receipt, and reports over MQTT through
// the persistent outbox. systemd runs it (deploy/pi/dockd.service) with
// Type=notify and a watchdog.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/localapi"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

type flags struct {
	config   string
	logLevel slog.Level
	logJSON  bool
	memLimit string
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	var f flags
	fs := flag.NewFlagSet("dockd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "/etc/berth/dockd.yaml", "configuration file (deploy/pi/dockd.yaml)")
	fs.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.BoolVar(&f.logJSON, "log-json", false, "log JSON lines instead of text (journald reads both)")
	fs.StringVar(&f.memLimit, "memory-limit", "80MiB", "Go heap soft limit (GOMEMLIMIT, if set, wins); badger's caches and copy buffers fit in it on a 4-slot dock")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dockd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.logLevel})
	if f.logJSON {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: f.logLevel})
	}
	ring := dock.NewLogRing(h, 2000)
	log := slog.New(ring)

	if os.Getenv("GOMEMLIMIT") == "" && f.memLimit != "" {
		n, err := dock.ParseSize(f.memLimit)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "dockd: --memory-limit %q: want a size such as 80MiB\n", f.memLimit)
			return 2
		}
		debug.SetMemoryLimit(n)
	}

	cfg, err := dock.LoadConfig(f.config)
	if err != nil {
		fmt.Fprintf(stderr, "dockd: %v\n", err)
		return 2
	}
	sys, err := dock.Open(cfg, dock.OpenOpts{Version: version, Log: log, Logs: ring})
	if err != nil {
		fmt.Fprintf(stderr, "dockd: %v\n", err)
		return 1
	}
	defer func() {
		if err := sys.Close(); err != nil {
			log.Error("close", "err", err)
		}
	}()
	if err := serve(ctx, cfg, sys, log); err != nil {
		log.Error("dockd stopped", "err", err)
		return 1
	}
	log.Info("dockd stopped")
	return 0
}

// serve runs the dock, its local API, its metrics endpoint and the systemd
// watchdog until ctx ends.
func serve(ctx context.Context, cfg *dock.Config, sys *dock.System, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	goRun("dock", sys.Dock.Run)
	if cfg.APISocket != "" {
		api := &localapi.Server{Path: cfg.APISocket, Dock: sys.Dock}
		goRun("local API", api.Run)
	}
	if cfg.MetricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), sys.Dock.Metrics())
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("metrics: %w", err)
		}
		// The address it got (metrics_addr may ask for port 0).
		log.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics")
		goRun("metrics", func(ctx context.Context) error { return serveMetrics(ctx, ln, reg) })
	}
	goRun("watchdog", func(ctx context.Context) error { return watchdog(ctx, sys.Dock, log) })
	log.Info("dockd running", "dock", cfg.Dock, "version", version, "slots", len(sys.Dock.Slots()), "socket", cfg.APISocket)
	wg.Wait()
	close(errc)
	return errors.Join(collect(errc)...)
}

func collect(c <-chan error) []error {
	var out []error
	for err := range c {
		out = append(out, err)
	}
	return out
}

func serveMetrics(ctx context.Context, ln net.Listener, reg *prometheus.Registry) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer c()
	err := srv.Shutdown(sctx)
	<-done
	return err
}

// watchdog tells systemd dockd is ready, then pets the watchdog while the
// dock's parts are alive (Dock.Healthy), at half the configured interval.
// Outside systemd (no NOTIFY_SOCKET) it only waits.
func watchdog(ctx context.Context, d *dock.Dock, log *slog.Logger) error {
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify ready", "err", err)
	}
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		<-ctx.Done()
		daemon.SdNotify(false, daemon.SdNotifyStopping)
		return nil
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			return nil
		case <-t.C:
			if err := d.Healthy(); err != nil {
				// Stop petting: systemd restarts a dockd whose parts died.
				log.Error("unhealthy: not petting the watchdog", "err", err)
				continue
			}
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}

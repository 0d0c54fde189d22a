package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/store"
)

// childConfig is what the parent test passes to a collector process.
type childConfig struct {
	DSN, Schema          string
	Broker, User, Passwd string
	Group                string
	Filters              []string
}

const childEnv = "BERTH_INGEST_TEST_CHILD"

// TestCollectorProcess is not a test: it is the collector process the
// failover test starts and kills (re-executing the test binary).
func TestCollectorProcess(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("helper process for TestFailoverKilledCollector")
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, cfg.DSN, &store.Opts{Schema: cfg.Schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, err := ingest.New(ingest.Config{Broker: cfg.Broker, ClientID: "child-" + randHex(4), Username: cfg.User,
		Password: cfg.Passwd, Group: cfg.Group, Filters: cfg.Filters, Conns: 4, MaxBatch: 200,
		FlushInterval: 5 * time.Millisecond, Committers: 2},
		st, slog.New(slog.NewTextHandler(os.Stderr, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-in.Ready()
		fmt.Println("READY")
	}()
	if err := in.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// startChild runs a collector in its own process; kill ends it with
// SIGKILL (no shutdown, whatever it holds is lost with it).
func startChild(t *testing.T, cfg childConfig) (kill func()) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCollectorProcess$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	stderr := &logBuf{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
			}
		}
	})
	var once sync.Once
	kill = func() {
		once.Do(func() {
			if os.Getenv("BERTH_INGEST_DEBUG") != "" {
				cmd.Process.Signal(syscall.SIGQUIT)
				time.Sleep(time.Second)
				os.WriteFile("/tmp/child.log", []byte(stderr.String()), 0o644)
			}
			cmd.Process.Kill()
			wg.Wait()
			cmd.Wait()
		})
	}
	t.Cleanup(kill)
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		kill()
		t.Fatalf("collector process not ready:\n%s", stderr.String())
	}
	return kill
}

// (c) Two collectors share one subscription; 10,000 reports from simulated
// docks; one collector is killed (SIGKILL) in the middle. Every report is
// committed exactly once and every dock sees an ack for every id.
func TestFailoverKilledCollector(t *testing.T) {
	for _, bn := range []string{"mosquitto", "embedded"} {
		t.Run(bn, func(t *testing.T) {
			nDocks, perDock := 20, 500 // 10,000 reports
			if raceEnabled && os.Getenv("BERTH_INGEST_FAILOVER_FULL") == "" {
				nDocks, perDock = 10, 100
				t.Logf("race detector on: %d reports instead of 10,000 (BERTH_INGEST_FAILOVER_FULL=1 for all)", nDocks*perDock)
			}
			// Several collectors means PostgreSQL in production (one
			// collector runs on SQLite); without PostgreSQL the test runs
			// on one SQLite file shared by both processes.
			d := sqliteDB(t)
			if pgAvailable(t) {
				d = pgDB(t)
			}
			st := d.open(t)
			e := env(t, bn, st)
			prefix := "tf" + randHex(4)
			docks := newDocks(t, st, prefix, nDocks)
			group := "g-" + randHex(4)
			filters := dockFilters(docks)

			kill := startChild(t, childConfig{DSN: d.dsn, Schema: d.schema, Broker: e.url, User: e.collUser,
				Passwd: e.collPass, Group: group, Filters: filters})
			c := startCollector(t, e, st, group, filters, func(c *ingest.Config) { c.Conns = 4 })
			for _, dk := range docks {
				dk.connect(t, e)
			}
			// The docks give up only when acknowledgements stop coming (a
			// stalled collector), not at a fixed time: on a loaded machine
			// the same 10,000 reports take several times longer.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			start := time.Now()
			errs := make(chan error, nDocks)
			outboxes := make([][]outMsg, len(docks))
			for i, dk := range docks {
				outboxes[i] = dk.manifests(t, perDock)
			}
			start = time.Now()
			for i, dk := range docks {
				msgs := outboxes[i]
				// A window of 40 per dock keeps what Mosquitto queues per
				// collector below its max_queued_messages (1000); the retry
				// is the dock's AckTimeout.
				go func() { errs <- dk.send(ctx, msgs, 40, 5*time.Second, nil) }()
			}
			acked := func() int {
				n := 0
				for _, dk := range docks {
					n += dk.ackedCount()
				}
				return n
			}
			go cancelWhenStalled(ctx, cancel, acked, 30*time.Second)
			waitFor(t, "a third of the reports acknowledged", 3*time.Minute, func() bool {
				if os.Getenv("BERTH_INGEST_DEBUG") != "" {
					t.Logf("%s acked %d committed %v", time.Since(start), acked(), c.metric(t, "berth_ingest_committed_total", "", ""))
				}
				return acked() >= nDocks*perDock/3
			})
			raw := d.raw(t)
			atKill := d.count(t, raw, "messages", prefix)
			kill()
			t.Logf("%s: killed one collector at %d committed, %d acked, after %s", bn, atKill, acked(), time.Since(start))
			var failed []error
			for range docks {
				if err := <-errs; err != nil {
					failed = append(failed, err)
				}
			}
			if err := errors.Join(failed...); err != nil {
				if os.Getenv("BERTH_INGEST_DEBUG") != "" {
					f, _ := os.Create("/tmp/stall-" + bn + ".txt")
					pprof.Lookup("goroutine").WriteTo(f, 2)
					f.Close()
				}
				t.Fatalf("not every report acknowledged: %v\nsurvivor log:\n%s", err, c.logs.String())
			}
			t.Logf("%s: all %d acknowledged after %s", bn, nDocks*perDock, time.Since(start))

			if n := d.count(t, raw, "messages", prefix); n != nDocks*perDock {
				t.Fatalf("%d messages committed, want %d", n, nDocks*perDock)
			}
			var segs int
			if err := raw.QueryRow("SELECT count(*) FROM segments WHERE serial LIKE 'R-" + prefix + "%'").Scan(&segs); err != nil {
				t.Fatal(err)
			}
			if segs != nDocks*perDock {
				t.Fatalf("%d segments stored, want %d", segs, nDocks*perDock)
			}
			for _, dk := range docks {
				if n := dk.ackedCount(); n != perDock {
					t.Errorf("dock %s: %d of %d ids acknowledged", dk.id, n, perDock)
				}
			}
			// Both collectors did part of the work: the survivor committed
			// fewer than all, and the killed one committed some.
			survivor := c.metric(t, "berth_ingest_committed_total", "", "")
			if survivor >= float64(nDocks*perDock) || atKill == 0 {
				t.Errorf("survivor committed %v of %d, %d before the kill: the load was not shared", survivor, nDocks*perDock, atKill)
			}
			t.Logf("%s: survivor committed %v, acknowledged %v duplicates, coalesced %v copies", bn, survivor,
				c.metric(t, "berth_ingest_duplicates_total", "", ""), c.metric(t, "berth_ingest_coalesced_total", "", ""))
		})
	}
}

// cancelWhenStalled cancels ctx when progress() has not grown for stall.
func cancelWhenStalled(ctx context.Context, cancel context.CancelFunc, progress func() int, stall time.Duration) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, since := progress(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n := progress(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > stall {
			cancel()
			return
		}
	}
}

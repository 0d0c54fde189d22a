package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/ingest"
)

// ownMosquitto starts a Mosquitto of the test's own on a free port, with
// the production broker's limits from deploy/cloud/mosquitto.conf (the
// collector's in-flight window and queue; the dev machine's shared broker
// runs the defaults, 20 in flight per connection, which caps ingest at
// about 20 messages per commit and connection). It returns ok false when no
// mosquitto binary is installed, or BERTH_BENCH_BROKER=shared asks for the
// shared one.
// Its pid is returned too, for its CPU time.
func ownMosquitto(t testing.TB) (mqttEnv, int, bool) {
	t.Helper()
	if os.Getenv("BERTH_BENCH_BROKER") == "shared" {
		return mqttEnv{}, 0, false
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		return mqttEnv{}, 0, false
	}
	deploy, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cloud", "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := []string{"listener " + port + " 127.0.0.1", "allow_anonymous true", "persistence false", "log_dest stderr",
		"log_type error", "log_type warning"}
	for line := range strings.SplitSeq(string(deploy), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && slices.Contains([]string{"max_inflight_messages", "max_queued_messages", "max_packet_size"}, f[0]) {
			conf = append(conf, line)
		}
	}
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	var logs logBuf
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("own mosquitto not listening on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return mqttEnv{name: "mosquitto", url: "tcp://" + addr}, cmd.Process.Pid, true
}

// procCPU is a process's user+system CPU time from /proc (0 if unknown).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces), from field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// docksConfig is what BenchmarkIngestMosquittoPostgres passes to its docks
// process.
type docksConfig struct {
	Broker  string
	Docks   []string
	PerDock int
	Window  int
	Prefix  string // forward phase topics: bench/{Prefix}/{dock}
}

// docksResult is what the docks process reports of the ingest phase.
type docksResult struct {
	Acked   int
	Elapsed time.Duration // first publish to last ack
	AckP50  time.Duration // publish to ack, per report
	AckP99  time.Duration
	CPU     time.Duration // the docks process's CPU in the phase
}

const docksEnv = "BERTH_INGEST_BENCH_DOCKS"

// TestBenchDocksProcess is not a test: it is the simulated docks of
// BenchmarkIngestMosquittoPostgres, in a process of their own so that the
// benchmark's CPU figure is the collector's alone. It reads commands on
// stdin: "fwd" publishes the reports to a plain topic (the broker's own
// forward rate), "ingest" sends them to the collector and waits for every
// ack; it answers each with one line.
func TestBenchDocksProcess(t *testing.T) {
	raw := os.Getenv(docksEnv)
	if raw == "" {
		t.Skip("helper process for BenchmarkIngestMosquittoPostgres")
	}
	var cfg docksConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	e := mqttEnv{name: "mosquitto", url: cfg.Broker}
	docks := make([]*simDock, len(cfg.Docks))
	outboxes := make([][]outMsg, len(cfg.Docks))
	for i, id := range cfg.Docks {
		docks[i] = &simDock{id: id, acked: map[string]bool{}, ackedAt: map[string]time.Time{}, notify: make(chan struct{}, 1)}
		docks[i].connect(t, e)
		outboxes[i] = docks[i].manifests(t, cfg.PerDock)
	}
	fmt.Println("READY")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "fwd":
			var wg sync.WaitGroup
			for i, dk := range docks {
				wg.Go(func() {
					topic := "bench/" + cfg.Prefix + "/" + dk.id
					var toks []paho.Token
					for _, m := range outboxes[i] {
						if len(toks) >= cfg.Window {
							toks[0].Wait()
							toks = toks[1:]
						}
						toks = append(toks, dk.client.Publish(topic, 1, false, m.payload))
					}
					for _, tok := range toks {
						tok.Wait()
					}
				})
			}
			wg.Wait()
			fmt.Println("FWD-DONE")
		case "ingest":
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			sent := make([]map[string]time.Time, len(docks))
			start, cpu0 := time.Now(), cpuTime()
			errs := make(chan error, len(docks))
			for i, dk := range docks {
				sent[i] = map[string]time.Time{}
				go func() { errs <- dk.send(ctx, outboxes[i], cfg.Window, 30*time.Second, sent[i]) }()
			}
			for range docks {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			res := docksResult{Elapsed: time.Since(start), CPU: cpuTime() - cpu0}
			cancel()
			var lat []time.Duration
			for i, dk := range docks {
				dk.mu.Lock()
				for id, at := range dk.ackedAt {
					lat = append(lat, at.Sub(sent[i][id]))
				}
				res.Acked += len(dk.acked)
				dk.mu.Unlock()
			}
			res.AckP50, res.AckP99 = p(lat, 0.50), p(lat, 0.99)
			b, _ := json.Marshal(res)
			fmt.Println("RESULT " + string(b))
		default:
			return
		}
	}
}

// BenchmarkIngestMosquittoPostgres: the production path, measured apart
// from its load generator. 50 simulated docks (each keeping up to 100
// reports awaiting the collector's ack, as agent/report's outbox does) run
// in a separate process and publish segment manifests through Mosquitto
// (the test's own, with deploy/cloud/mosquitto.conf's in-flight window,
// when mosquitto is installed) to one collector (this process) committing
// into PostgreSQL; every report is committed, PUBACKed and acknowledged to
// its dock. b.N is the number of reports; run with -benchtime 20000x.
//
// Reported: msgs/s (first publish to last ack); the broker's own QoS 1
// forward rate in the same run (the same docks publishing the same payloads
// to a plain topic, received by the same number of connections PUBACKing at
// once) and ingest's share of it; commit latency p50/p99 (one store.Commit);
// publish-to-ack p99; CPU per report of the collector process, of the
// docks process and (its own) of the broker.
func BenchmarkIngestMosquittoPostgres(b *testing.B) {
	e, brokerPid, own := ownMosquitto(b)
	if !own {
		e = mosquitto(b)
	}
	d := pgDB(b)
	st := d.open(b)
	const nDocks, window, conns = 50, 100, 8
	prefix := "tp" + randHex(4)
	docks := newDocks(b, st, prefix, nDocks)
	ids := make([]string, nDocks)
	for i, dk := range docks {
		ids[i] = dk.id
	}
	perDock := (b.N + nDocks - 1) / nDocks
	total := perDock * nDocks
	raw, err := json.Marshal(docksConfig{Broker: e.url, Docks: ids, PerDock: perDock, Window: window, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchDocksProcess$", "-test.v")
	cmd.Env = append(os.Environ(), docksEnv+"="+string(raw))
	var stderr logBuf
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if t := sc.Text(); t == "READY" || t == "FWD-DONE" || strings.HasPrefix(t, "RESULT ") {
				lines <- t
			}
		}
	}()
	expect := func(what string) string {
		b.Helper()
		select {
		case l, ok := <-lines:
			if !ok || !strings.HasPrefix(l, what) {
				b.Fatalf("docks process: want %s, got %q\n%s", what, l, stderr.String())
			}
			return l
		case <-time.After(10 * time.Minute):
			b.Fatalf("docks process: no %s\n%s", what, stderr.String())
		}
		return ""
	}
	expect("READY")

	// The broker alone: conns subscribers in a share group PUBACK at once.
	var got atomic.Int64
	var first, last atomic.Int64
	done := make(chan struct{})
	group := "fwd-" + randHex(4)
	for i := range conns {
		o := paho.NewClientOptions().AddBroker(e.url).SetClientID(fmt.Sprintf("fwd-%s-%d", randHex(3), i)).
			SetCleanSession(true).SetOrderMatters(false)
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		b.Cleanup(func() { c.Disconnect(100) })
		tok := c.Subscribe("$share/"+group+"/bench/"+prefix+"/+", 1, func(paho.Client, paho.Message) {
			now := time.Now().UnixNano()
			first.CompareAndSwap(0, now)
			last.Store(now)
			if got.Add(1) == int64(total) {
				close(done)
			}
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
	}
	fwdStart := time.Now()
	fmt.Fprintln(stdin, "fwd")
	expect("FWD-DONE")
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("broker forwarded %d of %d", got.Load(), total)
	}
	fwdRate := float64(total) / time.Duration(last.Load()-fwdStart.UnixNano()).Seconds()

	// Ingest.
	ts := &timedStore{Store: st}
	startCollector(b, e, ts, "g-"+randHex(4), dockFilters(docks), func(c *ingest.Config) {
		c.Conns, c.Committers, c.MaxBatch, c.FlushInterval = conns, 2, 500, 10*time.Millisecond
	})
	b.ResetTimer()
	cpu0, bcpu0 := cpuTime(), procCPU(brokerPid)
	fmt.Fprintln(stdin, "ingest")
	l := expect("RESULT ")
	cpu, bcpu := cpuTime()-cpu0, procCPU(brokerPid)-bcpu0
	b.StopTimer()
	var res docksResult
	if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "RESULT ")), &res); err != nil {
		b.Fatal(err)
	}
	if res.Acked != total {
		b.Fatalf("%d acked, want %d", res.Acked, total)
	}
	if n := d.count(b, d.raw(b), "messages", prefix); n != total {
		b.Fatalf("%d committed, want %d", n, total)
	}
	ts.mu.Lock()
	durs := slices.Clone(ts.durs)
	ts.mu.Unlock()
	rate := float64(total) / res.Elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(fwdRate, "broker-fwd-msgs/s")
	b.ReportMetric(100*rate/fwdRate, "%-of-broker")
	b.ReportMetric(float64(p(durs, 0.50).Microseconds())/1000, "commit-p50-ms")
	b.ReportMetric(float64(p(durs, 0.99).Microseconds())/1000, "commit-p99-ms")
	b.ReportMetric(float64(res.AckP99.Microseconds())/1000, "ack-p99-ms")
	b.ReportMetric(float64(total)/float64(max(len(durs), 1)), "msgs/commit")
	b.ReportMetric(float64(cpu.Microseconds())/float64(total), "collector-cpu-us/msg")
	b.ReportMetric(float64(res.CPU.Microseconds())/float64(total), "docks-cpu-us/msg")
	if own {
		b.ReportMetric(float64(bcpu.Microseconds())/float64(total), "broker-cpu-us/msg")
	}
	var load []byte
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = bytes.TrimSpace(b)
	}
	b.Logf("broker %s (own: %v); %d reports in %s, %d commits; loadavg %s", e.url, own, total, res.Elapsed, len(durs), load)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// The crash tests run the real dockd binary as a subprocess against an
// in-process collector (embedded broker, SQLite, directory evidence store)
// and in-process recsim recorders, kill or disturb it, and check the
// evidence afterwards. Every identifier here starts with crash: another
// set of test files shares the package.

// crashFootage sizes the recorders' footage and the links. Segments are
// small (well under the buffer's 1 MiB chunk and the upload client's 4 MiB
// request) so that a kill every second still lets copies and uploads make
// progress: a segment is durable in the buffer only at its commit, and an
// upload request cut short is discarded whole by the collector.
type crashFootage struct {
	Recorders  int
	Segments   int   // per recorder
	MinSize    int64 // bytes per segment
	MaxSize    int64
	RecRate    int64 // recsim link cap per recorder, bytes/s
	UploadRate int64 // dock's upload cap, bytes/s
}

// crashRig is the test world (collector, broker and recorders in process;
// no dock: dockd runs as a subprocess on the files the world wrote) and
// the dockd configuration of one crash test.
type crashRig struct {
	t  *testing.T
	w  *testworld.World
	fp crashFootage

	bin     string
	cfgPath string
	board   string
	sock    string
	logPath string
	api     *localapi.Client

	dockd     *exec.Cmd
	dockdDone chan error
	starts    int
	logLevel  string // dockd's --log-level; "": warn
}

// crashNewRig starts the world and writes dockd's board file and
// configuration (its key, token and enrolment files are the world's).
func crashNewRig(t *testing.T, fp crashFootage) *crashRig {
	t.Helper()
	dir := t.TempDir()
	dockID := "crash-" + randHex(4)
	r := &crashRig{t: t, bin: buildDockd(t), fp: fp}
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))

	genOpts := recsim.GenOpts{Segments: fp.Segments, MinSize: fp.MinSize, MaxSize: fp.MaxSize, Start: time.Now().Add(-12 * time.Hour)}
	stateDir := filepath.Join(dir, "recsim")
	var recs []*recsim.Recorder
	for i := range fp.Recorders {
		rec, err := recsim.Generate(uint64(500+i), &genOpts, &recsim.Config{Serial: fmt.Sprintf("CRASH-%s-%d", dockID[6:], i),
			Rate: fp.RecRate, StateDir: stateDir})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	var err error
	if r.w, err = testworld.Start(context.Background(), testworld.Config{Dir: dir, Log: log, DockID: dockID, Unit: "unit-crash",
		Recorders: recs, NoDock: true, Dock: func(dc *dock.Config) { dc.BufferCapacity = 2 << 30 }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)

	ddir := filepath.Dir(r.w.DockCfg.BufferKeyFile)
	r.board = filepath.Join(ddir, "board.yaml")
	crashWrite(t, r.board, r.w.SimBoardYAML())
	r.sock = filepath.Join(ddir, "dockd.sock")
	r.logPath = filepath.Join(dir, "dockd.log")
	r.cfgPath = filepath.Join(ddir, "dockd.yaml")
	r.setUploadRate(fp.UploadRate)
	r.api = localapi.NewClient(r.sock)
	return r
}

// setUploadRate writes dockd's configuration with an upload cap of rate
// bytes/s; dockd reads it at its next start.
func (r *crashRig) setUploadRate(rate int64) {
	crashWrite(r.t, r.cfgPath, r.w.DockdYAML(r.board, r.sock, rate))
}

func crashWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startCollector starts the collector again on the same data directory
// and ports.
func (r *crashRig) startCollector() {
	r.t.Helper()
	if err := r.w.StartCollector(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// stopCollector stops the collector and its embedded broker and closes its
// store.
func (r *crashRig) stopCollector() {
	r.t.Helper()
	if err := r.w.StopCollector(); err != nil {
		r.t.Errorf("collector: %v", err)
	}
}

func (r *crashRig) close() {
	if r.dockd != nil {
		r.dockd.Process.Kill()
		<-r.dockdDone
		r.dockd = nil
	}
	if err := r.w.Close(); err != nil {
		r.t.Errorf("world: %v", err)
	}
	if r.t.Failed() {
		r.dumpLog()
	}
}

// dumpLog shows the end of dockd's log (every run appends to it).
func (r *crashRig) dumpLog() {
	b, _ := os.ReadFile(r.logPath)
	if len(b) > 16<<10 {
		b = b[len(b)-16<<10:]
	}
	r.t.Logf("dockd log (tail):\n%s", b)
}

// startDockd starts dockd and waits until its local API answers.
func (r *crashRig) startDockd() {
	r.t.Helper()
	lf, err := os.OpenFile(r.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	r.starts++
	fmt.Fprintf(lf, "=== start %d at %s\n", r.starts, time.Now().Format(time.RFC3339Nano))
	level := r.logLevel
	if level == "" {
		level = "warn"
	}
	cmd := exec.Command(r.bin, "--config", r.cfgPath, "--log-level", level)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		r.t.Fatal(err)
	}
	lf.Close()
	r.dockd, r.dockdDone = cmd, make(chan error, 1)
	go func() { r.dockdDone <- cmd.Wait() }()
	began := time.Now()
	deadline := began.Add(20 * time.Second)
	for {
		if _, err := r.status(); err == nil {
			if testing.Verbose() {
				r.t.Logf("dockd start %d answered after %s", r.starts, time.Since(began).Round(time.Millisecond))
			}
			return
		}
		select {
		case err := <-r.dockdDone:
			r.dockd = nil
			r.t.Fatalf("dockd exited at start: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatal("dockd's local API did not answer within 20s")
		}
	}
}

// killDockd sends SIGKILL and reaps the process.
func (r *crashRig) killDockd() {
	r.t.Helper()
	if err := r.dockd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	err := <-r.dockdDone
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		r.t.Fatalf("dockd ended with %v before the kill", err)
	}
	r.dockd = nil
}

// stopDockd stops dockd as systemd would (SIGTERM) and wants exit 0.
func (r *crashRig) stopDockd() {
	r.t.Helper()
	if err := r.dockd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	select {
	case err := <-r.dockdDone:
		if err != nil {
			r.t.Errorf("dockd on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.dockd.Process.Kill()
		<-r.dockdDone
		r.t.Error("dockd did not stop within 30s of SIGTERM")
	}
	r.dockd = nil
}

func (r *crashRig) status() (localapi.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var st localapi.Status
	err := r.api.Get(ctx, "status", &st)
	return st, err
}

// crashPhase names what a dock is doing: copying while any slot copies,
// uploading while the buffer holds footage not yet receipted, else other.
func crashPhase(st localapi.Status) string {
	for _, s := range st.Slots {
		if s.State == wire.SlotCopying {
			return "copying"
		}
	}
	if st.Backlog.Segments > 0 {
		return "uploading"
	}
	return "other"
}

// crashProgress summarises a status for the log.
func crashProgress(st localapi.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s; backlog %d", crashPhase(st), st.Backlog.Segments)
	for _, s := range st.Slots {
		fmt.Fprintf(&b, "; %d %s %d/%d copied %d released", s.Index, s.State, s.Copied, s.Segments, s.Released)
	}
	return b.String()
}

// settled is testworld.Settled on dockd's status and the collector's store.
func (r *crashRig) settled(st localapi.Status) bool {
	return testworld.Settled(context.Background(), st, r.w.Col.Store())
}

// waitSettled waits for the running dockd to settle.
func (r *crashRig) waitSettled(within time.Duration) localapi.Status {
	r.t.Helper()
	deadline := time.Now().Add(within)
	var st localapi.Status
	var err error
	for {
		st, err = r.status()
		if err == nil && r.settled(st) {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("dock not settled within %s: %+v (%v)", within, st, err)
		}
		select {
		case err := <-r.dockdDone:
			r.dockd = nil
			r.t.Fatalf("dockd exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// check compares what every recorder held at the start with what the
// recorders, the collector's store and its evidence store hold now
// (testworld.Check: bytes, receipts and their signatures, and the
// recorders' release logs against the receipts on one clock).
func (r *crashRig) check() testworld.Tally {
	r.t.Helper()
	c, err := r.w.Check(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	for _, p := range c.Problems {
		r.t.Error(p)
	}
	return c
}

// report logs and asserts the zeros, and that every segment ended
// released (the run went to the end).
func (r *crashRig) report(c testworld.Tally) {
	r.t.Helper()
	r.t.Log(c)
	if !c.Zero() {
		r.t.Errorf("want 0 lost, 0 altered, 0 stored twice, 0 bad receipts, 0 released without or before a receipt")
	}
	if c.Released != c.Segments {
		r.t.Errorf("released %d of %d segments at the end of the run", c.Released, c.Segments)
	}
	staging, _ := os.ReadDir(filepath.Join(r.w.ColCfg.DataDir, "evidence", "staging"))
	r.t.Logf("evidence staging areas left: %d", len(staging))
}

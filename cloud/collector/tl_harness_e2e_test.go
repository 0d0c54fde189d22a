package collector_test

// The harness of the timeline end-to-end suite (timeline_e2e_test.go): one
// collector on its embedded broker and SQLite, recsim recorders built from
// the committed fixture clips with chosen times, stop causes and faults, a
// dock on a simulated board, an MQTT subscriber on the alert topics and two
// webhook receivers (plain JSON and DingTalk). The wiring follows
// agent/dock/e2e_test.go; the recorder directories follow cmd/demo/fleet.go.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/firmware-protocol/recsim"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// tlTake is one recording of a test recorder: a fixture clip (1..6: 1
// opening announcement, 2 and 3 noise, 4 a spoken reason at its start, 5
// noise, 6 noise only), how long after the previous recording ended it
// starts in true time (negative: it overlaps), and why it stopped.
type tlTake struct {
	clip  int
	after time.Duration
	stop  string
}

// tlRecorder is a recorder's plan: its takes, laid out so that the last
// one ends ago before the test's start in true time, and its device
// config (clock offset, faults).
type tlRecorder struct {
	serial string
	ago    time.Duration
	takes  []tlTake
	cfg    recsim.Config
}

// tlSpan is a segment's true (dock-clock) start and end, as the plan laid
// it out; the recorder reports them shifted by its clock offset.
type tlSpan struct{ start, end time.Time }

const (
	tlOfficer = "010777"
	tlUnit    = "unit-tl"
)

// tlBuild writes the recorder directory for p under dir and loads it. Each
// copy of a clip gets a trailing MP4 'free' box naming the recorder and
// sequence number, so every segment has its own hash. It returns the true
// span of each segment by sequence number (1-based, as laid out; a
// FaultMissingSeq fault then hides one from the inventory).
func tlBuild(dir string, p tlRecorder, now time.Time) (*recsim.Recorder, map[uint64]tlSpan, error) {
	raw, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, recsim.ManifestFile))
	if err != nil {
		return nil, nil, err
	}
	fx, err := recsim.ParseManifest(raw)
	if err != nil {
		return nil, nil, err
	}
	clips := map[int]recsim.ManifestSegment{}
	for _, s := range fx.Segments {
		clips[int(s.Seq)] = s
	}
	rdir := filepath.Join(dir, p.serial)
	if err := os.MkdirAll(rdir, 0o750); err != nil {
		return nil, nil, err
	}
	m := recsim.Manifest{Serial: p.serial, Model: "BWC-7 (recsim)", Firmware: "2.4.1", HWRevision: "C", Officer: tlOfficer}
	var total time.Duration
	for _, t := range p.takes {
		c, ok := clips[t.clip]
		if !ok {
			return nil, nil, fmt.Errorf("no fixture clip %d", t.clip)
		}
		total += t.after + c.End.Sub(c.Start)
	}
	spans := map[uint64]tlSpan{}
	at := now.Add(-p.ago).Add(-total).Truncate(time.Second)
	for i, t := range p.takes {
		c := clips[t.clip]
		body, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, c.File))
		if err != nil {
			return nil, nil, err
		}
		seq := uint64(i + 1)
		tag := fmt.Sprintf("berth timeline e2e: %s seq %d", p.serial, seq)
		free := make([]byte, 8, 8+len(tag))
		binary.BigEndian.PutUint32(free, uint32(8+len(tag)))
		copy(free[4:], "free")
		body = append(append(body, free...), tag...)
		name := fmt.Sprintf("%04d.mp4", seq)
		if err := os.WriteFile(filepath.Join(rdir, name), body, 0o640); err != nil {
			return nil, nil, err
		}
		at = at.Add(t.after)
		end := at.Add(c.End.Sub(c.Start))
		spans[seq] = tlSpan{at, end}
		size := uint64(len(body))
		sum := sha256.Sum256(body)
		// The recorder stamps its footage with its own clock.
		off := p.cfg.ClockOffset
		m.Segments = append(m.Segments, recsim.ManifestSegment{Seq: seq, File: name, Start: at.Add(off), End: end.Add(off),
			StopCause: t.stop, Officer: tlOfficer, CaseTag: "TL-" + p.serial, Media: c.Media, Size: &size,
			SHA256: hex.EncodeToString(sum[:])})
		at = end
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(rdir, recsim.ManifestFile), b, 0o640); err != nil {
		return nil, nil, err
	}
	cfg := p.cfg
	r, err := recsim.Load(rdir, &cfg)
	return r, spans, err
}

// tlInbox collects what arrives on one delivery channel.
type tlInbox struct {
	mu   sync.Mutex
	msgs [][]byte
	tops []string
}

func (b *tlInbox) add(topic string, p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, append([]byte(nil), p...))
	b.tops = append(b.tops, topic)
}

// snapshot returns copies of what arrived so far.
func (b *tlInbox) snapshot() (topics []string, msgs [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.tops...), append([][]byte(nil), b.msgs...)
}

func (b *tlInbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// tlWorld is the running system of one suite run.
type tlWorld struct {
	col      *collector.Collector
	sys      *dock.System
	recs     *recsim.Server
	spans    map[string]map[uint64]tlSpan // serial -> seq -> true span
	mqtt     *tlInbox                     // berth/v1/alerts/unit-tl/#
	webhook  *tlInbox                     // plain JSON webhook
	dingtalk *tlInbox                     // DingTalk robot webhook
}

// tlReceiver is a local webhook endpoint recording every body; robots
// answer errcode 0.
func tlReceiver(t *testing.T, in *tlInbox) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("webhook: %s %s %q: %v", r.Method, r.URL, r.Header.Get("Content-Type"), err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		in.add(r.URL.Path, b)
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type tlLogWriter struct{ t *testing.T }

func (w tlLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func tlRandHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tlStart builds and starts the world with the given recorders, one per
// slot, and an MQTT subscription on the unit's alerts. Nothing is docked
// yet; analysis runs only when the test calls Engine().Pass.
func tlStart(t *testing.T, plans []tlRecorder, now time.Time) *tlWorld {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(tlLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir := t.TempDir()
	dockID := "tl-" + tlRandHex(4)
	token := tlRandHex(16)
	w := &tlWorld{spans: map[string]map[uint64]tlSpan{}, mqtt: &tlInbox{}, webhook: &tlInbox{}, dingtalk: &tlInbox{}}
	jsonSrv, dtSrv := tlReceiver(t, w.webhook), tlReceiver(t, w.dingtalk)

	var cc collector.Config
	cc.DataDir = filepath.Join(dir, "collector")
	cc.HTTP = "127.0.0.1:0"
	cc.MQTT.Embedded = "127.0.0.1:0"
	cc.MQTT.ClientID = "collector-" + dockID
	cc.Analysis.Every = time.Hour // the test runs Pass itself
	cc.Docks = []collector.DockEnrolment{{ID: dockID, Unit: tlUnit, Token: token}}
	cc.Webhooks = []collector.Webhook{{URL: jsonSrv.URL + "/json", Format: "json"}, {URL: dtSrv.URL + "/robot/send", Format: "dingtalk"}}
	col, err := collector.New(ctx, cc, collector.Options{Log: log.With("side", "collector")})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w.col = col

	var recs []*recsim.Recorder
	enrolled := map[string]string{}
	for _, p := range plans {
		p.cfg.Logger = log.With("side", "recorder", "serial", p.serial)
		r, spans, err := tlBuild(filepath.Join(dir, "recorders"), p, now)
		if err != nil {
			cancel()
			col.Close()
			t.Fatalf("recorder %s: %v", p.serial, err)
		}
		recs = append(recs, r)
		w.spans[p.serial] = spans
		enrolled[r.Serial()] = r.PublicKeyBase64()
	}
	if w.recs, err = recsim.NewServer(recs, &recsim.ServerOpts{TCP: "127.0.0.1:0"}); err != nil {
		cancel()
		col.Close()
		t.Fatal(err)
	}
	spec, err := board.NewSimSpec("tl", len(recs))
	if err != nil {
		t.Fatal(err)
	}
	b, err := board.Open(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := b.Sim().SetLink(i, w.recs.Addr(i)); err != nil {
			t.Fatal(err)
		}
	}
	ddir := filepath.Join(dir, "dock")
	if err := os.MkdirAll(ddir, 0o750); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(ddir, "buffer.key")
	if err := buffer.WriteKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	ef := filepath.Join(ddir, "recorders.json")
	eb, _ := json.Marshal(enrolled)
	if err := os.WriteFile(ef, eb, 0o600); err != nil {
		t.Fatal(err)
	}
	dc := &dock.Config{Dock: dockID, Unit: tlUnit, Board: "(sim)", DataDir: ddir, BufferKeyFile: keyFile,
		BufferCapacity: 1 << 30, EnrolledDevices: ef, StateEvery: 2 * time.Second}
	dc.Collector.URL = col.UploadURL()
	dc.Collector.PublicKey = base64.StdEncoding.EncodeToString(col.PublicKey())
	dc.MQTT.Broker = col.BrokerURL()
	dc.MQTT.AckTimeout = 3 * time.Second
	if w.sys, err = dock.Open(dc, dock.OpenOpts{Version: "tl-e2e", Log: log.With("side", "dock"), Board: b, Token: token}); err != nil {
		t.Fatal(err)
	}

	// The dock stops first (its offline state reaches the broker), then
	// the recorders and the collector.
	dockCtx, stopDock := context.WithCancel(ctx)
	done, dockDone := make(chan struct{}, 2), make(chan struct{})
	run := func(ctx context.Context, name string, f func(context.Context) error, done chan<- struct{}) {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := f(ctx); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	run(ctx, "collector", col.Run, done)
	run(ctx, "recsim", w.recs.Run, done)
	dockStarted := false
	var sub paho.Client
	t.Cleanup(func() {
		if sub != nil {
			sub.Disconnect(100)
		}
		stopDock()
		if dockStarted {
			<-dockDone
		}
		cancel()
		<-done
		<-done
		w.sys.Close()
		w.recs.Close()
		col.Close()
	})
	select {
	case <-col.Ingest().Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("collector ingest not ready")
	}

	// The supervisors' app: the collector's broker admits only the
	// collector and enrolled docks, and docks may read only their own
	// subtree, so it uses the collector's credentials.
	user, pass := col.BrokerCredentials()
	sub = paho.NewClient(paho.NewClientOptions().AddBroker(col.BrokerURL()).SetClientID("tl-supervisor-" + dockID).
		SetUsername(user).SetPassword(pass).SetCleanSession(true).SetOrderMatters(false))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("supervisor connect: %v", tok.Error())
	}
	filter := wire.Root + "/alerts/" + tlUnit + "/#"
	if tok := sub.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { w.mqtt.add(m.Topic(), m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	dockStarted = true
	run(dockCtx, "dock", w.sys.Dock.Run, dockDone)
	return w
}

// dockAll drops every recorder in and waits until the docking settled:
// every slot safe (or in a fault that needs a person, such as a sequence
// hole, whose footage is still copied and uploaded), nothing waiting for
// upload, every report acknowledged by the collector (so committed).
func (w *tlWorld) dockAll(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if err := w.sys.Board.Sim().Insert(i); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(45 * time.Second)
	var stable time.Time
	for {
		st := w.sys.Dock.Status()
		// The collector's view too: the dock's last state report (sent every
		// StateEvery) must show the backlog gone, or the analysis rightly
		// raises backlog-old from the stale report.
		if tlSettled(st, n) && w.collectorSeesNoBacklog(t) {
			if stable.IsZero() {
				stable = time.Now()
			} else if time.Since(stable) > 500*time.Millisecond {
				return
			}
		} else {
			stable = time.Time{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docking not settled: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *tlWorld) collectorSeesNoBacklog(t *testing.T) bool {
	docks, err := w.col.Store().Docks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docks {
		if d.ID == w.sys.Dock.Status().Dock {
			return !d.StateAt.IsZero() && d.State.BacklogSegments == 0
		}
	}
	return false
}

func tlSettled(st localapi.Status, n int) bool {
	if st.Backlog.Segments > 0 || st.OutboxPending > 0 || len(st.Slots) != n {
		return false
	}
	for _, s := range st.Slots {
		switch s.State {
		case wire.SlotReleased, wire.SlotReady:
		case wire.SlotFault:
			if s.Fault == "link" || s.Uploaded < s.Copied || s.Copied < s.Segments {
				return false
			}
		default:
			return false
		}
	}
	return true
}

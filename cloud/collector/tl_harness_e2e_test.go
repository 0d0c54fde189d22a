package collector_test

// The harness of the timeline end-to-end suite (timeline_e2e_test.go): one
// collector on its embedded broker and SQLite, recsim recorders built from
// the committed fixture clips with chosen times, stop causes and faults, a
// dock on a simulated board, an MQTT subscriber on the alert topics and two
// webhook receivers (plain JSON and DingTalk). The world is the shared
// test world (cloud/testworld); the recorders are its fixture-clip plans.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
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
type tlSpan = testworld.Span

const (
	tlOfficer = "010777"
	tlUnit    = "unit-tl"
)

// plan is the recorder's plan for the test world's builder.
func (p tlRecorder) plan() testworld.Plan {
	tp := testworld.Plan{Serial: p.serial, Officer: tlOfficer, CaseTag: "TL-" + p.serial, Ago: p.ago, Config: p.cfg}
	for _, t := range p.takes {
		tp.Takes = append(tp.Takes, testworld.Take{Clip: t.clip, After: t.after, Stop: t.stop})
	}
	return tp
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
	*testworld.World
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
func tlStart(t *testing.T, plans []tlRecorder, now time.Time, tune ...func(*collector.Config)) *tlWorld {
	t.Helper()
	log := slog.New(slog.NewTextHandler(tlLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir := t.TempDir()
	dockID := "tl-" + tlRandHex(4)
	w := &tlWorld{spans: map[string]map[uint64]tlSpan{}, mqtt: &tlInbox{}, webhook: &tlInbox{}, dingtalk: &tlInbox{}}
	jsonSrv, dtSrv := tlReceiver(t, w.webhook), tlReceiver(t, w.dingtalk)
	var recs []*recsim.Recorder
	for _, p := range plans {
		p.cfg.Logger = log.With("side", "recorder", "serial", p.serial)
		r, spans, err := p.plan().Build(filepath.Join(dir, "recorders"), now)
		if err != nil {
			t.Fatalf("recorder %s: %v", p.serial, err)
		}
		recs = append(recs, r)
		w.spans[p.serial] = spans
	}
	var err error
	w.World, err = testworld.Start(context.Background(), testworld.Config{Dir: dir, Log: log, DockID: dockID, Unit: tlUnit,
		Version: "tl-e2e", Recorders: recs,
		Collector: func(cc *collector.Config) {
			cc.Webhooks = []collector.Webhook{{URL: jsonSrv.URL + "/json", Format: "json"}, {URL: dtSrv.URL + "/robot/send", Format: "dingtalk"}}
			for _, f := range tune {
				f(cc)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	var sub paho.Client
	t.Cleanup(func() {
		if sub != nil {
			sub.Disconnect(100)
		}
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})

	// The supervisors' app: the collector's broker admits only the
	// collector and enrolled docks, and docks may read only their own
	// subtree, so it uses the collector's credentials.
	user, pass := w.Col.BrokerCredentials()
	sub = paho.NewClient(paho.NewClientOptions().AddBroker(w.Col.BrokerURL()).SetClientID("tl-supervisor-" + dockID).
		SetUsername(user).SetPassword(pass).SetCleanSession(true).SetOrderMatters(false))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("supervisor connect: %v", tok.Error())
	}
	filter := wire.Root + "/alerts/" + tlUnit + "/#"
	if tok := sub.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { w.mqtt.add(m.Topic(), m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return w
}

// dockAll drops every recorder in and waits until the world settled
// (testworld.Settled) and stayed so for half a second.
func (w *tlWorld) dockAll(t *testing.T) {
	t.Helper()
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitSettled(context.Background(), 45*time.Second, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// tlCase is one recorder of the suite and what the collector must make of
// its docking: the alerts delivered as open ("kind#seq"; seq 0 for health
// findings) and those recorded closed and never delivered.
type tlCase struct {
	name   string
	rec    tlRecorder
	open   []string
	closed []string
	check  func(t *testing.T, c tlSeen)
}

// tlSeen is what one recorder's docking produced, for a case's checks.
type tlSeen struct {
	w         *tlWorld
	serial    string
	spans     map[uint64]tlSpan
	delivered map[string]alert.Alert // by kind#seq, from MQTT
	webhook   map[string]alert.Alert // by kind#seq, from the JSON webhook
	stored    map[string]store.Alert // by kind#seq
	audio     bool                   // the reason check could run (ffmpeg present)
}

func tlID(kind string, seq uint64) string { return fmt.Sprintf("%s#%d", kind, seq) }

// tlNear fails unless got is within a second of want (the dock measures the
// clock offset over a round trip, to the millisecond).
func tlNear(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -time.Second || d > time.Second {
		t.Errorf("%s = %s, want %s (true time; off by %s)", what, got.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano), d)
	}
}

func tlCases() []tlCase {
	const drift = 10 * time.Minute
	return []tlCase{
		{name: "auto split within tolerance is one recording", open: nil,
			rec: tlRecorder{serial: "TL-SPLIT", ago: 2 * time.Hour,
				takes: []tlTake{{1, 0, "auto-split"}, {2, time.Second, "auto-split"}, {5, 0, "user"}}}},
		{
			// Device clock 10 min fast: the footage truly ended 24 h 05 min
			// before docking but is stamped 23 h 55 min. Corrected, it is
			// late; the interruption's times are the true ones.
			name: "clock 10 min fast: corrected times, late upload, drift finding",
			rec: tlRecorder{serial: "TL-FAST", ago: 24*time.Hour + 5*time.Minute, cfg: recsim.Config{ClockOffset: drift},
				takes: []tlTake{{3, 0, "low-battery"}, {6, 40 * time.Second, "user"}}},
			open: []string{tlID(analysis.KindUnexplained, 2), tlID(timeline.KindLateUpload, 1), tlID(timeline.KindLateUpload, 2),
				tlID(health.KindClockDrift, 0)},
			check: func(t *testing.T, c tlSeen) {
				tlCheckDrift(t, c, drift)
				a := c.delivered[tlID(analysis.KindUnexplained, 2)]
				tlNear(t, "stopped_at", a.Evidence.StoppedAt, c.spans[1].End)
				tlNear(t, "resumed_at", a.Evidence.ResumedAt, c.spans[2].Start)
				if gap := a.Evidence.ResumedAt.Sub(a.Evidence.StoppedAt); gap < 39*time.Second || gap > 41*time.Second {
					t.Errorf("gap %s, want 40s", gap)
				}
				if !strings.Contains(a.Detail, "resumed 40s later") {
					t.Errorf("detail %q does not give the 40 s gap", a.Detail)
				}
			}},
		{
			// Device clock 10 min slow: stamped 24 h 05 min ago, truly
			// 23 h 55 min: corrected, it is on time.
			name: "clock 10 min slow: corrected times are on time, drift finding",
			rec: tlRecorder{serial: "TL-SLOW", ago: 23*time.Hour + 55*time.Minute, cfg: recsim.Config{ClockOffset: -drift},
				takes: []tlTake{{1, 0, "auto-split"}, {2, 0, "user"}}},
			open:  []string{tlID(health.KindClockDrift, 0)},
			check: func(t *testing.T, c tlSeen) { tlCheckDrift(t, c, -drift) }},
		{
			name: "interruption resumed with a spoken reason is recorded closed",
			rec: tlRecorder{serial: "TL-SPOKEN", ago: 2 * time.Hour,
				takes: []tlTake{{3, 0, "low-battery"}, {4, 90 * time.Second, "user"}}},
			closed: []string{tlID(analysis.KindExplained, 2)},
			check: func(t *testing.T, c tlSeen) {
				if !c.audio {
					return
				}
				a := c.stored[tlID(analysis.KindExplained, 2)]
				var ev alert.Evidence
				if err := json.Unmarshal(a.Evidence, &ev); err != nil {
					t.Fatal(err)
				}
				if a.ClosedBy != "reason-check" || ev.ReasonSpoken == nil || !*ev.ReasonSpoken || ev.SpeechSeconds < 2 || ev.StopCause != "low-battery" {
					t.Errorf("explained interruption: closed by %q, evidence %+v", a.ClosedBy, ev)
				}
				// The evidence lists what was heard: the wearer's regions
				// carry the speech time counted.
				var counted float64
				for _, r := range ev.Regions {
					if r.Counted {
						counted += r.SpeechSeconds
						if r.Source != "wearer" || r.Why == "" {
							t.Errorf("counted region %+v is not the wearer's or has no reason", r)
						}
					}
				}
				if math.Abs(counted-ev.SpeechSeconds) > 0.02 {
					t.Errorf("evidence regions count %.2f s of wearer speech, the verdict %.2f s: %+v", counted, ev.SpeechSeconds, ev.Regions)
				}
				tlNear(t, "stopped_at", ev.StoppedAt, c.spans[1].End)
				tlNear(t, "resumed_at", ev.ResumedAt, c.spans[2].Start)
			}},
		{
			name: "interruption resumed without a spoken reason is alerted with its evidence",
			rec: tlRecorder{serial: "TL-SILENT", ago: 2 * time.Hour,
				takes: []tlTake{{5, 0, "fault"}, {6, 40 * time.Second, "user"}}},
			open:  []string{tlID(analysis.KindUnexplained, 2)},
			check: tlCheckUnexplained},
		{
			name: "sequence hole",
			rec: tlRecorder{serial: "TL-HOLE", ago: 2 * time.Hour, cfg: recsim.Config{Faults: []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: 2}}},
				takes: []tlTake{{1, 0, "user"}, {2, 20 * time.Minute, "user"}, {3, 20 * time.Minute, "user"}}},
			open: []string{tlID(timeline.KindSequenceHole, 2)},
			check: func(t *testing.T, c tlSeen) {
				a := c.delivered[tlID(timeline.KindSequenceHole, 2)]
				if a.Key != "sequence-hole/TL-HOLE/2-2" || a.Severity != alert.SeverityCritical || !strings.Contains(a.Detail, "seq 2..2 missing") {
					t.Errorf("hole alert %+v", a)
				}
			}},
		{
			// Beyond the 7-day lookback: judged all the same (issue 11).
			name: "footage docked 10 days after recording: late upload and reason check",
			rec: tlRecorder{serial: "TL-TENDAYS", ago: 10 * 24 * time.Hour,
				takes: []tlTake{{5, 0, "fault"}, {6, 40 * time.Second, "user"}}},
			open: []string{tlID(analysis.KindUnexplained, 2), tlID(timeline.KindLateUpload, 1), tlID(timeline.KindLateUpload, 2)},
			check: func(t *testing.T, c tlSeen) {
				a := c.delivered[tlID(timeline.KindLateUpload, 1)]
				if a.Rule == nil || a.Rule.Number != 1 || !strings.Contains(a.Rule.Articles, "第十二条") || !strings.Contains(a.Detail, "stored 240h") {
					t.Errorf("late upload %+v (rule %+v)", a, a.Rule)
				}
				if c.audio {
					u := c.delivered[tlID(analysis.KindUnexplained, 2)]
					if u.Evidence.ReasonSpoken == nil || *u.Evidence.ReasonSpoken || u.Rule == nil || u.Rule.Number != 2 {
						t.Errorf("10-day-old interruption not reason-checked: %+v", u)
					}
				}
			}},
		{
			name: "footage docked 30 h after recording is a late upload",
			rec:  tlRecorder{serial: "TL-LATE", ago: 30 * time.Hour, takes: []tlTake{{1, 0, "user"}}},
			open: []string{tlID(timeline.KindLateUpload, 1)},
			check: func(t *testing.T, c tlSeen) {
				a := c.delivered[tlID(timeline.KindLateUpload, 1)]
				if !strings.Contains(a.Detail, "stored 30h") || a.Officer != tlOfficer {
					t.Errorf("late upload %+v", a)
				}
			}},
		{
			// The second segment starts 5 s before the first ends; it also
			// follows a user stop at once, so it is an interruption (clip
			// 2 is noise: unexplained).
			name: "overlapping segments",
			rec: tlRecorder{serial: "TL-OVERLAP", ago: 2 * time.Hour,
				takes: []tlTake{{1, 0, "user"}, {2, -5 * time.Second, "user"}}},
			open: []string{tlID(timeline.KindOverlap, 2), tlID(analysis.KindUnexplained, 2)},
			check: func(t *testing.T, c tlSeen) {
				a := c.delivered[tlID(timeline.KindOverlap, 2)]
				if !strings.Contains(a.Detail, "starts 5s before seq 1 ends") {
					t.Errorf("overlap %+v", a)
				}
			}},
		{
			name: "abnormal stop never resumed",
			rec: tlRecorder{serial: "TL-NORESUME", ago: 6 * time.Hour,
				takes: []tlTake{{1, 0, "user"}, {5, 30 * time.Minute, "fault"}}},
			open: []string{tlID(timeline.KindAbnormalNoResume, 2)},
			check: func(t *testing.T, c tlSeen) {
				a := c.delivered[tlID(timeline.KindAbnormalNoResume, 2)]
				if a.Evidence.StopCause != "fault" {
					t.Errorf("stop cause %q", a.Evidence.StopCause)
				}
				tlNear(t, "stopped_at", a.Evidence.StoppedAt, c.spans[2].End)
			}},
	}
}

// tlCheckDrift: the docking measured the offset (the health record keeps
// it as evidence), and the custodian is told.
func tlCheckDrift(t *testing.T, c tlSeen, off time.Duration) {
	t.Helper()
	hs, err := c.w.Col.Store().DeviceHealth(context.Background(), c.serial, time.Time{}, time.Time{})
	if err != nil || len(hs) == 0 {
		t.Fatalf("health of %s: %d records (%v)", c.serial, len(hs), err)
	}
	got := time.Duration(hs[0].Health.ClockOffsetMs) * time.Millisecond
	if d := got - off; d < -time.Second || d > time.Second || !hs[0].Health.ClockSet {
		t.Errorf("measured offset %s (set %v), want %s", got, hs[0].Health.ClockSet, off)
	}
	a := c.delivered[tlID(health.KindClockDrift, 0)]
	if a.Severity != alert.SeverityWarning || !strings.Contains(a.Detail, "clock off by") {
		t.Errorf("clock-drift alert %+v", a)
	}
}

// tlCheckUnexplained: what the supervisor receives, on MQTT and the
// webhook, is enough to judge in a minute.
func tlCheckUnexplained(t *testing.T, c tlSeen) {
	kind := analysis.KindUnexplained
	if !c.audio {
		kind = analysis.KindUnchecked
	}
	id := tlID(kind, 2)
	a, h := c.delivered[id], c.webhook[id]
	if c.audio {
		// The raw JSON a case system or app reads names every figure,
		// "no speech heard" included.
		_, mq := c.w.mqtt.snapshot()
		_, wh := c.w.webhook.snapshot()
		for _, b := range append(mq, wh...) {
			if !strings.Contains(string(b), `"key":"`+kind+`/TL-SILENT/2"`) {
				continue
			}
			for _, want := range []string{`"speech_seconds":`, `"reason_spoken":false`, `"stop_cause":"fault"`, `"stopped_at":`, `"resumed_at":`, `"link":`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("delivered JSON lacks %s: %s", want, b)
				}
			}
		}
	}
	for name, got := range map[string]alert.Alert{"mqtt": a, "webhook": h} {
		t.Run(name, func(t *testing.T) {
			if got.Key != kind+"/TL-SILENT/2" || got.Unit != tlUnit || got.Officer != tlOfficer || got.Serial != "TL-SILENT" ||
				got.Seq != 2 || got.State != store.AlertOpen || got.Severity != alert.SeverityWarning || got.Dock == "" {
				t.Errorf("alert %+v", got)
			}
			ev := got.Evidence
			if ev.StopCause != "fault" {
				t.Errorf("stop cause %q", ev.StopCause)
			}
			tlNear(t, "stopped_at", ev.StoppedAt, c.spans[1].End)
			tlNear(t, "resumed_at", ev.ResumedAt, c.spans[2].Start)
			if !c.audio {
				return
			}
			if ev.ReasonSpoken == nil || *ev.ReasonSpoken || ev.SpeechSeconds >= 2 || math.IsNaN(ev.SpeechSeconds) {
				t.Errorf("speech evidence %+v", ev)
			}
			// The delivery links to the alert's console page: the link
			// verifies and leads to the page (which asks for a sign-in).
			tlCheckLink(t, c, got)
			if !strings.Contains(got.Detail, "wearer speech in the first") {
				t.Errorf("detail %q lacks the speech figures", got.Detail)
			}
		})
	}
}

func tlCheckLink(t *testing.T, c tlSeen, a alert.Alert) {
	t.Helper()
	u, err := url.Parse(a.Link)
	if err != nil || u.Path != alert.LinkPath || u.Query().Get("a") != a.Key {
		t.Fatalf("alert link %q (%v)", a.Link, err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(a.Link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stored, _, _ := c.w.Col.Store().AlertByKey(context.Background(), a.Key)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != fmt.Sprintf("/alerts/%d", stored.ID) {
		t.Errorf("following the alert link: %s to %q, want 303 to alert %d's page", resp.Status, loc, stored.ID)
	}
}

func tlKinds(m map[string]int) []string {
	var out []string
	for k, n := range m {
		for range n {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestTimelineEndToEnd docks recorders built to show each kind of timeline
// finding, from recsim through a real dock (DockLink, buffer, resumable
// upload, MQTT reports) to the collector, runs the analysis pass, and checks
// every alert on the unit's MQTT topics and at two webhooks (plain JSON and
// DingTalk), then runs the pass again: nothing is delivered twice.
func TestTimelineEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end docking takes seconds")
	}
	_, err := exec.LookPath("ffmpeg")
	audio := err == nil
	if !audio {
		if os.Getenv("BERTH_REQUIRE_FFMPEG") != "" {
			t.Fatal("ffmpeg is required (BERTH_REQUIRE_FFMPEG is set) but not on PATH")
		}
		t.Log("ffmpeg not on PATH: the AAC opening windows cannot be checked, interruptions are expected as unchecked")
	}
	cases := tlCases()
	if !audio {
		for i := range cases {
			c := &cases[i]
			for j, k := range c.open {
				c.open[j] = strings.Replace(k, analysis.KindUnexplained, analysis.KindUnchecked, 1)
			}
			for _, k := range c.closed {
				c.open = append(c.open, strings.Replace(k, analysis.KindExplained, analysis.KindUnchecked, 1))
			}
			c.closed = nil
		}
	}
	var plans []tlRecorder
	wantOpen := 0
	for _, c := range cases {
		plans = append(plans, c.rec)
		wantOpen += len(c.open)
	}
	now := time.Now()
	w := tlStart(t, plans, now)
	w.dockAll(t)
	t.Logf("docked and settled after %s", time.Since(now).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The footage the timeline is built from is the recorders' own.
	tally, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tally.Problems {
		t.Error(p)
	}
	if !tally.Zero() || tally.Objects == 0 {
		t.Errorf("evidence checks: %v", tally)
	}
	passStart := time.Now()
	created, err := w.Col.Engine().Pass(ctx)
	t.Logf("first analysis pass: %s", time.Since(passStart).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("analysis pass: %v", err)
	}
	if len(created) != wantOpen {
		var keys []string
		for _, a := range created {
			keys = append(keys, a.Key)
		}
		t.Errorf("first pass created %d alerts, want %d: %v", len(created), wantOpen, keys)
	}
	// Deliveries are done when Pass returns (PUBACK, webhook 200); the
	// subscriber may still be reading.
	for deadline := time.Now().Add(10 * time.Second); w.mqtt.len() < wantOpen && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}

	// Dedup: a second pass over the same data raises and delivers nothing.
	passStart = time.Now()
	again, err := w.Col.Engine().Pass(ctx)
	t.Logf("second analysis pass: %s", time.Since(passStart).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("second analysis pass: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second pass created %d alerts: %+v", len(again), again)
	}
	time.Sleep(500 * time.Millisecond)

	// What arrived, by serial and kind#seq, each exactly once per channel.
	topics, msgs := w.mqtt.snapshot()
	delivered := map[string]map[string]alert.Alert{}
	count := map[string]map[string]int{}
	for i, b := range msgs {
		var a alert.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("MQTT alert on %s is not an alert: %v: %s", topics[i], err, b)
		}
		if want := wire.AlertTopic(tlUnit, a.Kind); topics[i] != want {
			t.Errorf("alert %s on %s, want %s", a.Key, topics[i], want)
		}
		if delivered[a.Serial] == nil {
			delivered[a.Serial], count[a.Serial] = map[string]alert.Alert{}, map[string]int{}
		}
		id := tlID(a.Kind, a.Seq)
		delivered[a.Serial][id] = a
		count[a.Serial][id]++
	}
	_, hooks := w.webhook.snapshot()
	webhook := map[string]map[string]alert.Alert{}
	hookCount := map[string]map[string]int{}
	for _, b := range hooks {
		var a alert.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("webhook body is not an alert: %v: %s", err, b)
		}
		if webhook[a.Serial] == nil {
			webhook[a.Serial], hookCount[a.Serial] = map[string]alert.Alert{}, map[string]int{}
		}
		webhook[a.Serial][tlID(a.Kind, a.Seq)] = a
		hookCount[a.Serial][tlID(a.Kind, a.Seq)]++
	}
	dingtalk := tlDingTalk(t, w)

	all, err := w.Col.Store().Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]map[string]store.Alert{}
	for _, a := range all {
		if stored[a.Serial] == nil {
			stored[a.Serial] = map[string]store.Alert{}
		}
		stored[a.Serial][tlID(a.Kind, a.Seq)] = a
	}
	if len(msgs) != wantOpen || len(hooks) != wantOpen || len(all) != wantOpen+len(stored["TL-SPOKEN"]) {
		t.Errorf("delivered %d on MQTT, %d at the JSON webhook, %d stored; want %d open", len(msgs), len(hooks), len(all), wantOpen)
	}
	known := map[string]bool{}
	for _, c := range cases {
		known[c.rec.serial] = true
	}
	for serial := range stored {
		if !known[serial] {
			t.Errorf("unexpected alerts for %q: %v", serial, stored[serial])
		}
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.rec.serial
			want := slices.Sorted(slices.Values(c.open))
			if got := tlKinds(count[s]); !slices.Equal(got, want) {
				t.Errorf("MQTT delivered %v, want %v", got, want)
			}
			if got := tlKinds(hookCount[s]); !slices.Equal(got, want) {
				t.Errorf("JSON webhook received %v, want %v", got, want)
			}
			if got := dingtalk[s]; got != len(c.open) {
				t.Errorf("DingTalk robot received %d messages naming %s, want %d", got, s, len(c.open))
			}
			var openStored, closedStored []string
			for id, a := range stored[s] {
				switch a.State {
				case store.AlertOpen:
					openStored = append(openStored, id)
				case store.AlertClosed:
					closedStored = append(closedStored, id)
				default:
					t.Errorf("%s in state %s", a.Key, a.State)
				}
			}
			slices.Sort(openStored)
			slices.Sort(closedStored)
			if !slices.Equal(openStored, want) || !slices.Equal(closedStored, slices.Sorted(slices.Values(c.closed))) {
				t.Errorf("stored open %v closed %v, want open %v closed %v", openStored, closedStored, want, c.closed)
			}
			for _, id := range c.closed {
				if _, ok := delivered[s][id]; ok {
					t.Errorf("%s was delivered, but it needs nobody's action", id)
				}
			}
			if c.check != nil && !t.Failed() {
				c.check(t, tlSeen{w: w, serial: s, spans: w.spans[s], delivered: delivered[s], webhook: webhook[s], stored: stored[s], audio: audio})
			}
		})
	}
}

// tlDingTalk decodes the DingTalk robot's messages and counts them by the
// recorder they name; the unexplained interruption's message carries the
// figures a supervisor needs.
func tlDingTalk(t *testing.T, w *tlWorld) map[string]int {
	t.Helper()
	_, bodies := w.dingtalk.snapshot()
	out := map[string]int{}
	for _, b := range bodies {
		var m struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Title string `json:"title"`
				Text  string `json:"text"`
			} `json:"markdown"`
		}
		if err := json.Unmarshal(b, &m); err != nil || m.MsgType != "markdown" || m.Markdown.Title == "" {
			t.Errorf("DingTalk body %s (%v)", b, err)
			continue
		}
		for serial := range w.spans {
			if strings.Contains(m.Markdown.Text, "recorder: "+serial+" (") {
				out[serial]++
				if serial == "TL-SILENT" {
					for _, want := range []string{"unit: " + tlUnit, "officer: " + tlOfficer, "(fault)", "resumed:", "speech heard:", "(sign-in required)](" + w.Col.UploadURL() + alert.LinkPath + "?a="} {
						if !strings.Contains(m.Markdown.Text, want) {
							t.Errorf("DingTalk message lacks %q:\n%s", want, m.Markdown.Text)
						}
					}
				}
			}
		}
	}
	return out
}

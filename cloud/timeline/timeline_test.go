package timeline

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

// seg makes a segment from minutes after t0.
func seg(seq uint64, startMin, endMin float64, cause string) Segment {
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	return Segment{Seq: seq, Start: at(startMin), End: at(endMin), StopCause: cause, Officer: "o1",
		SHA256: fmt.Sprintf("%064x", seq), ReceivedAt: at(endMin + 60)}
}

func fileSeg(s Segment) Segment { s.FileTimes = true; return s }

func kinds(fs []Finding) []string {
	var k []string
	for _, f := range fs {
		k = append(k, f.Kind)
	}
	return k
}

func TestAnalyze(t *testing.T) {
	now := t0.Add(20 * time.Hour)
	tests := []struct {
		name string
		segs []Segment
		want []string
	}{
		{"auto splits are one recording", []Segment{
			seg(1, 0, 10, wire.StopAutoSplit), seg(2, 10, 20, wire.StopAutoSplit), seg(3, 20, 25, wire.StopUser)}, nil},
		{"low battery then resume", []Segment{
			seg(1, 0, 10, wire.StopLowBattery), seg(2, 15, 20, wire.StopUser)}, []string{KindInterruption}},
		{"user stop and quick restart", []Segment{
			seg(1, 0, 10, wire.StopUser), seg(2, 12, 20, wire.StopUser)}, []string{KindInterruption}},
		{"user stop, restart much later is a new recording", []Segment{
			seg(1, 0, 10, wire.StopUser), seg(2, 120, 130, wire.StopUser)}, nil},
		{"split with a gap lost footage", []Segment{
			seg(1, 0, 10, wire.StopAutoSplit), seg(2, 11, 20, wire.StopUser)}, []string{KindInterruption}},
		{"fault never resumed", []Segment{
			seg(1, 0, 10, wire.StopFault)}, []string{KindAbnormalNoResume}},
		{"unknown stop never resumed", []Segment{
			seg(1, 0, 10, wire.StopUnknown)}, []string{KindAbnormalNoResume}},
		// A legacy recorder's files say nothing of why it stopped: no
		// abnormal stop for its "unknown"; a quick restart is still an
		// interruption, and a known fault still counts.
		{"file times: unknown stop is not abnormal", []Segment{
			fileSeg(seg(1, 0, 10, wire.StopUnknown))}, nil},
		{"file times: quick restart is an interruption", []Segment{
			fileSeg(seg(1, 0, 10, wire.StopUnknown)), fileSeg(seg(2, 12, 20, wire.StopUnknown))}, []string{KindInterruption}},
		{"file times: a fault is abnormal", []Segment{
			fileSeg(seg(1, 0, 10, wire.StopFault))}, []string{KindAbnormalNoResume}},
		{"hole", []Segment{
			seg(1, 0, 10, wire.StopUser), seg(4, 300, 310, wire.StopUser)}, []string{KindSequenceHole}},
		{"overlap", []Segment{
			seg(1, 0, 10, wire.StopUser), seg(2, 8, 30, wire.StopUser)}, []string{KindInterruption, KindOverlap}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := Build("R1", tt.segs, nil, rules.DefaultPolicy())
			got := kinds(Analyze(tl, rules.DefaultPolicy(), now))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("findings %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHoleRangeAndKey(t *testing.T) {
	tl := Build("R1", []Segment{seg(7, 0, 1, wire.StopUser), seg(10, 100, 101, wire.StopUser)}, nil, rules.DefaultPolicy())
	fs := Analyze(tl, rules.DefaultPolicy(), t0.Add(3*time.Hour))
	if len(fs) != 1 || fs[0].MissingFrom != 8 || fs[0].MissingTo != 9 || fs[0].Key() != "sequence-hole/R1/8-9" {
		t.Fatalf("got %+v", fs)
	}
}

func TestHashAndDeadlines(t *testing.T) {
	p := rules.DefaultPolicy()
	bad := seg(1, 0, 10, wire.StopUser)
	bad.Computed = fmt.Sprintf("%064x", 99)
	late := seg(2, 200, 210, wire.StopUser)
	late.ReceivedAt = late.End.Add(25 * time.Hour)
	pending := seg(3, 400, 410, wire.StopUser)
	pending.ReceivedAt = time.Time{}
	tl := Build("R1", []Segment{bad, late, pending}, nil, p)
	got := kinds(Analyze(tl, p, pending.End.Add(p.UploadDeadline+time.Minute)))
	want := []string{KindHashMismatch, KindLateUpload, KindUploadOverdue}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
}

func TestReusedSequence(t *testing.T) {
	a, b := seg(5, 0, 1, wire.StopUser), seg(5, 100, 101, wire.StopUser)
	b.SHA256 = fmt.Sprintf("%064x", 77)
	got := kinds(Analyze(Build("R1", []Segment{a, b}, nil, rules.DefaultPolicy()), rules.DefaultPolicy(), t0.Add(3*time.Hour)))
	if !slices.Equal(got, []string{KindSequenceReused}) {
		t.Fatalf("got %v", got)
	}
}

// A clock running fast by 60 s over a day makes two segments that were
// back-to-back in true time look 60 s apart at the next docking; after
// correction the split is recognised.
func TestDriftCorrection(t *testing.T) {
	day := 24 * time.Hour
	syncs := []Sync{{At: t0, Offset: 0, Set: true}, {At: t0.Add(day), Offset: 60 * time.Second, Set: true}}
	// True times: 12:00 to 12:10 and 12:10 to 12:20, half a day after t0.
	half := t0.Add(day / 2)
	devOff := 30 * time.Second // drift at half the day
	a := Segment{Seq: 1, Start: half.Add(devOff), End: half.Add(10*time.Minute + devOff), StopCause: wire.StopAutoSplit, SHA256: "a"}
	b := Segment{Seq: 2, Start: half.Add(10*time.Minute + devOff), End: half.Add(20*time.Minute + devOff), StopCause: wire.StopUser, SHA256: "b"}
	tl := Build("R1", []Segment{b, a}, syncs, rules.DefaultPolicy())
	if len(tl.Recordings) != 1 {
		t.Fatalf("recordings %d, want 1", len(tl.Recordings))
	}
	if d := tl.Segments[0].Start.Sub(half); d < -10*time.Millisecond || d > 10*time.Millisecond {
		t.Fatalf("corrected start off by %s", d)
	}
	if tl.Segments[0].Seq != 1 {
		t.Fatalf("not sorted by corrected time")
	}
}

func TestOffloadDue(t *testing.T) {
	p := rules.DefaultPolicy()
	if _, ok := OffloadDue("R1", "o1", t0, t0.Add(10*time.Hour), p, 4*time.Hour); ok {
		t.Fatal("due too early")
	}
	f, ok := OffloadDue("R1", "o1", t0, t0.Add(21*time.Hour), p, 4*time.Hour)
	if !ok || f.Kind != KindOffloadDueSoon {
		t.Fatalf("got %+v %v", f, ok)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := rules.DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	p := rules.DefaultPolicy()
	p.MinSpeech = time.Minute
	if p.Validate() == nil {
		t.Fatal("min speech longer than the window accepted")
	}
}

// BenchmarkAnalyze1M builds and analyses 1,000,000 segments over 1,000
// recorders (the target: under 60 s).
func BenchmarkAnalyze1M(b *testing.B) {
	const recorders, per = 1000, 1000
	all := make([][]Segment, recorders)
	for r := range all {
		segs := make([]Segment, per)
		at := t0
		for i := range segs {
			cause := []string{wire.StopAutoSplit, wire.StopAutoSplit, wire.StopUser, wire.StopLowBattery}[i%4]
			segs[i] = Segment{Seq: uint64(i + 1), Start: at, End: at.Add(10 * time.Minute), StopCause: cause,
				SHA256: "h", ReceivedAt: at.Add(time.Hour)}
			at = at.Add(10*time.Minute + time.Duration(i%3)*time.Minute)
		}
		all[r] = segs
	}
	syncs := []Sync{{At: t0.Add(-time.Hour), Set: true}, {At: t0.Add(30 * 24 * time.Hour), Offset: 90 * time.Second, Set: true}}
	p := rules.DefaultPolicy()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for r, segs := range all {
			n += len(Analyze(Build(fmt.Sprint(r), segs, syncs, p), p, t0.Add(60*24*time.Hour)))
		}
		if n == 0 {
			b.Fatal("no findings")
		}
	}
	b.ReportMetric(float64(recorders*per), "segments/op")
}

// Correct maps device time to dock time by the offset interpolated between
// the dockings around it, in both drift directions and outside the known
// dockings.
func TestCorrectInterpolation(t *testing.T) {
	day := 24 * time.Hour
	set := func(at time.Duration, off time.Duration) Sync { return Sync{At: t0.Add(at), Offset: off, Set: true} }
	// lin is a clock whose offset goes linearly from o0 at t0 to o1 a day later.
	lin := func(o0, o1 time.Duration) func(time.Duration) time.Duration {
		return func(at time.Duration) time.Duration {
			return o0 + time.Duration(float64(o1-o0)*float64(at)/float64(day))
		}
	}
	fixed := func(o time.Duration) func(time.Duration) time.Duration {
		return func(time.Duration) time.Duration { return o }
	}
	tests := []struct {
		name  string
		syncs []Sync
		at    time.Duration                     // true (dock) time of the segment start, after t0
		off   func(time.Duration) time.Duration // the device clock's offset at a true time
	}{
		{"fast clock, midway between set dockings", []Sync{set(0, 0), set(day, 80*time.Second)}, day / 2, lin(0, 80*time.Second)},
		{"slow clock, a quarter of the way", []Sync{set(0, 0), set(day, -2*time.Minute)}, day / 4, lin(0, -2*time.Minute)},
		{"previous docking did not set the clock", []Sync{{At: t0, Offset: 10 * time.Second}, set(day, 30*time.Second)}, day / 2, lin(10*time.Second, 30*time.Second)},
		{"before the first docking known: its measured offset", []Sync{set(day, 5*time.Minute)}, day / 2, fixed(5 * time.Minute)},
		{"after a docking that set the clock: none", []Sync{set(0, 3*time.Minute)}, day / 2, fixed(0)},
		{"after a docking that did not set it: what it measured", []Sync{{At: t0, Offset: 3 * time.Minute}}, day / 2, fixed(3 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endAt := tt.at + 10*time.Minute
			s := Segment{Seq: 1, Start: t0.Add(tt.at + tt.off(tt.at)), End: t0.Add(endAt + tt.off(endAt)), StopCause: wire.StopUser}
			got := Correct([]Segment{s}, tt.syncs)[0]
			if d := got.Start.Sub(t0.Add(tt.at)); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("corrected start off by %s", d)
			}
			if d := got.End.Sub(t0.Add(endAt)); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("corrected end off by %s", d)
			}
		})
	}
}

// An abnormal stop resumed only after the abnormal resume window is not an
// interruption but a stop without resume; a user stop resumed after the
// restart window is a new recording.
func TestResumeWindows(t *testing.T) {
	p := rules.DefaultPolicy()
	now := t0.Add(48 * time.Hour)
	h := p.AbnormalResumeWindow.Minutes()
	got := kinds(Analyze(Build("R1", []Segment{seg(1, 0, 10, wire.StopStorageFull), seg(2, 10+h+1, 20+h, wire.StopUser)}, nil, p), p, now))
	if !slices.Equal(got, []string{KindAbnormalNoResume}) {
		t.Fatalf("late resume after storage full: %v", got)
	}
	got = kinds(Analyze(Build("R1", []Segment{seg(1, 0, 10, wire.StopPowerLoss), seg(2, 10+h-1, 20+h, wire.StopUser)}, nil, p), p, now))
	if !slices.Equal(got, []string{KindInterruption}) {
		t.Fatalf("resume within the window after power loss: %v", got)
	}
	// Not yet resumed, but the window is still open: nothing due yet.
	got = kinds(Analyze(Build("R1", []Segment{seg(1, 0, 10, wire.StopFault)}, nil, p), p, t0.Add(2*time.Hour)))
	if len(got) != 0 {
		t.Fatalf("fault 1h50m ago, window still open: %v", got)
	}
}

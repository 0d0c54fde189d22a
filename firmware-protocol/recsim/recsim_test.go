package recsim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/firmware-protocol/conformance"
	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

func TestLoadFixture(t *testing.T) {
	r := load(t, nil)
	segs := r.Segments()
	if len(segs) != 6 || r.Serial() != "BWC-FX-0001" {
		t.Fatalf("serial %q, %d segments", r.Serial(), len(segs))
	}
	wantCauses := []docklink.StopCause{docklink.StopAutoSplit, docklink.StopUser, docklink.StopLowBattery, docklink.StopUser, docklink.StopFault, docklink.StopUser}
	var total int64
	for i, s := range segs {
		if s.Seq != uint64(i+1) || s.StopCause != wantCauses[i] || s.Media.VideoCodec != "h264" || s.Media.AudioCodec != "aac" || s.Officer != "010234" {
			t.Fatalf("segment %d: %+v", i, s)
		}
		ra, err := r.OpenSegment(s.Seq)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.NewSectionReader(ra, 0, int64(s.Size)))
		ra.(io.Closer).Close()
		if err != nil || sha256.Sum256(b) != s.SHA256 {
			t.Fatalf("seq %d: bytes do not hash to the recorded sha256 (%v)", s.Seq, err)
		}
		total += int64(len(b))
		t.Run("demux "+s.Media.Container, func(t *testing.T) { checkMP4(t, b) })
	}
	if total > 2<<20 {
		t.Errorf("fixture footage is %d bytes: keep it under 2 MB", total)
	}
	// The synthesised event log covers every segment.
	evs := r.Events()
	if len(evs) < 12 || evs[0].Index != 1 {
		t.Fatalf("events %+v", evs)
	}
}

// checkMP4 demuxes an MP4 with mp4ff: an H.264 video track and an AAC
// audio track, each with samples.
func checkMP4(t *testing.T, b []byte) {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("demux: %v", err)
	}
	if f.Moov == nil {
		t.Fatal("no moov box")
	}
	var video, audio bool
	for _, tr := range f.Moov.Traks {
		stbl := tr.Mdia.Minf.Stbl
		if stbl.Stsz == nil || stbl.Stsz.SampleNumber == 0 {
			t.Fatalf("track %d has no samples", tr.Tkhd.TrackID)
		}
		switch tr.Mdia.Hdlr.HandlerType {
		case "vide":
			video = stbl.Stsd.AvcX != nil
		case "soun":
			audio = stbl.Stsd.Mp4a != nil
		}
	}
	if !video || !audio {
		t.Fatalf("video h264 %v, audio aac %v", video, audio)
	}
}

func TestLoadRejectsBadDirectories(t *testing.T) {
	manifest, err := os.ReadFile(filepath.Join(fixtureDir, recsim.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	mp4file, err := os.ReadFile(filepath.Join(fixtureDir, "0001.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := recsim.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	good := m.Segments[0]
	tests := []struct {
		name string
		edit func(m *recsim.Manifest)
		file []byte
	}{
		{"hash differs from the file", func(m *recsim.Manifest) { m.Segments[0].SHA256 = strings.Repeat("0", 64) }, mp4file},
		{"size differs from the file", func(m *recsim.Manifest) { n := uint64(5); m.Segments[0].Size = &n }, mp4file},
		{"file outside the directory", func(m *recsim.Manifest) { m.Segments[0].File = "../0001.mp4" }, mp4file},
		{"missing file", func(m *recsim.Manifest) { m.Segments[0].File = "nope.mp4" }, mp4file},
		{"seq 0", func(m *recsim.Manifest) { m.Segments[0].Seq = 0 }, mp4file},
		{"unknown stop cause", func(m *recsim.Manifest) { m.Segments[0].StopCause = "coffee" }, mp4file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mm := recsim.Manifest{Serial: "X", Segments: []recsim.ManifestSegment{good}}
			tc.edit(&mm)
			writeManifest(t, dir, &mm)
			os.WriteFile(filepath.Join(dir, "0001.mp4"), tc.file, 0o644)
			if _, err := recsim.Load(dir, nil); !errors.Is(err, recsim.ErrManifest) {
				t.Fatalf("Load = %v, want ErrManifest", err)
			}
		})
	}
	// Without size and hash, both are computed.
	dir := t.TempDir()
	g := good
	g.SHA256, g.Size = "", nil
	writeManifest(t, dir, &recsim.Manifest{Serial: "X", Segments: []recsim.ManifestSegment{g}})
	os.WriteFile(filepath.Join(dir, "0001.mp4"), mp4file, 0o644)
	r, err := recsim.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Segments()[0]; s.SHA256 != sha256.Sum256(mp4file) || s.Size != uint64(len(mp4file)) {
		t.Fatalf("computed %+v", s)
	}
	// Unknown fields are refused.
	if _, err := recsim.ParseManifest([]byte(`{"serial":"X","segmnets":[]}`)); !errors.Is(err, recsim.ErrManifest) {
		t.Fatalf("typo accepted: %v", err)
	}
}

func writeManifest(t *testing.T, dir string, m *recsim.Manifest) {
	t.Helper()
	b, err := jsonMarshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, recsim.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	g := &recsim.GenOpts{Segments: 5, MinSize: 1000, MaxSize: 50000}
	a, err := recsim.Generate(7, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := recsim.Generate(7, g, nil)
	c, _ := recsim.Generate(8, g, nil)
	sa, sb, sc := a.Segments(), b.Segments(), c.Segments()
	if !slices.Equal(sa, sb) || slices.Equal(sa, sc) || len(sa) != 5 {
		t.Fatal("same seed must give the same segments, another seed others")
	}
	if a.Serial() != "BWC-SIM-7" || !a.PublicKey().Equal(b.PublicKey()) || a.PublicKey().Equal(c.PublicKey()) {
		t.Fatalf("serial %q or keys not derived from the serial", a.Serial())
	}
	for _, s := range sa {
		if s.Size < 1000 || s.Size > 50000 || !s.End.After(s.Start) {
			t.Fatalf("segment %+v", s)
		}
		ra, _ := a.OpenSegment(s.Seq)
		all := make([]byte, s.Size)
		if n, err := ra.ReadAt(all, 0); n != len(all) || (err != nil && err != io.EOF) {
			t.Fatalf("read %d %v", n, err)
		}
		if sha256.Sum256(all) != s.SHA256 {
			t.Fatalf("seq %d: bytes do not hash to the recorded sha256", s.Seq)
		}
		// Unaligned reads equal the same bytes of the full read.
		for _, off := range []int64{1, 7, 9, int64(s.Size) - 3} {
			p := make([]byte, 13)
			n, _ := ra.ReadAt(p, off)
			if !bytes.Equal(p[:n], all[off:min(off+13, int64(s.Size))]) {
				t.Fatalf("seq %d: ReadAt(%d) differs", s.Seq, off)
			}
		}
	}
	if segs := sa; segs[len(segs)-1].StopCause != docklink.StopUser {
		t.Fatalf("last segment stop cause %s, want user", segs[len(segs)-1].StopCause)
	}
}

func TestConformanceOverTCP(t *testing.T) {
	state := t.TempDir()
	r := load(t, &recsim.Config{StateDir: state})
	srv := serve(t, []*recsim.Recorder{r}, nil)
	rep := runSuite(t, tcpDialer(srv.Addr(0)), &conformance.Opts{Keys: keysOf(r), Release: true, SetClock: true})
	if !rep.Passed() {
		t.Fatalf("recsim does not conform over TCP: %+v", rep.Failed())
	}
	// The suite released one verified segment: gone from the recorder and
	// from a reload with the same state dir; the fixture file is untouched.
	rel := r.Released()
	if len(rel) != 1 {
		t.Fatalf("released %v, want one", rel)
	}
	again := load(t, &recsim.Config{StateDir: state})
	if got := again.Released(); !slices.Equal(got, rel) {
		t.Fatalf("reloaded released %v, want %v", got, rel)
	}
	for _, s := range again.Segments() {
		if s.Seq == rel[0] {
			t.Fatalf("seq %d held again after reload", s.Seq)
		}
	}
	if len(again.Segments()) != 5 {
		t.Fatalf("reloaded holds %d segments", len(again.Segments()))
	}
	fresh := load(t, nil) // the fixture dir itself still has all six, hashes intact
	if len(fresh.Segments()) != 6 {
		t.Fatal("fixture footage changed by a release")
	}
}

func TestFaultsFailConformance(t *testing.T) {
	tests := []struct {
		fault  string
		rule   string
		detail string
		only   bool
	}{
		{"wrong-hash=2", "§9.3", "seq 2", true},
		{"corrupt-frame=1", "§5.4", "bad frame", true},
		{"auth", "§6.2", "signature", false}, // every authenticated check fails after it
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			f, err := recsim.ParseFault(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			r := load(t, &recsim.Config{Faults: []recsim.Fault{f}})
			srv := serve(t, []*recsim.Recorder{r}, nil)
			rep := runSuite(t, tcpDialer(srv.Addr(0)), &conformance.Opts{Keys: keysOf(r)})
			failed := rep.Failed()
			if rep.Passed() || len(failed) == 0 {
				t.Fatal("passes with the fault injected")
			}
			if failed[0].Rule != tc.rule || !strings.Contains(failed[0].Detail, tc.detail) {
				t.Fatalf("first failure %+v, want %s naming %q", failed[0], tc.rule, tc.detail)
			}
			if tc.only && len(failed) != 1 {
				t.Fatalf("failed %+v, want only %s", failed, tc.rule)
			}
		})
	}
}

func TestDisconnectFaultAndResume(t *testing.T) {
	const size = 1 << 20
	f, _ := recsim.ParseFault("disconnect=300k")
	r, err := recsim.Generate(3, &recsim.GenOpts{Segments: 2, MinSize: size}, &recsim.Config{Faults: []recsim.Fault{f}, Rate: recsim.Unlimited})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, []*recsim.Recorder{r}, nil)
	seg := r.Segments()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := sha256.New()
	c1 := session(t, srv.Addr(0), keysOf(r))
	n, err := c1.ReadSegment(ctx, seg, 0, h)
	if err == nil || n >= size || n == 0 {
		t.Fatalf("read %d bytes, err %v: want the link cut part-way", n, err)
	}
	if !errors.Is(err, docklink.ErrLinkDown) && !errors.Is(err, docklink.ErrClosed) {
		t.Logf("read ended with %v", err)
	}
	// Reconnect: a new session on the same recorder resumes at n.
	c2 := session(t, srv.Addr(0), keysOf(r))
	if _, err := c2.CopySegment(ctx, seg, n, h, io.Discard); err != nil {
		t.Fatalf("resume at %d: %v", n, err)
	}
	// The fault fired once: a full read now works.
	if _, err := c2.CopySegment(ctx, r.Segments()[1], 0, nil, io.Discard); err != nil {
		t.Fatalf("full read after the fault: %v", err)
	}
}

func TestCorruptFrameFault(t *testing.T) {
	f, _ := recsim.ParseFault("corrupt-frame=2")
	r := load(t, &recsim.Config{Faults: []recsim.Fault{f}})
	dockEnd, devEnd := pipe(t, r)
	fr := docklink.NewFramer(dockEnd, dockEnd)
	for id := uint32(1); id <= 3; id++ {
		if err := fr.WriteMessage(id, &docklink.Ping{}); err != nil {
			t.Fatal(err)
		}
		dockEnd.SetReadDeadline(time.Now().Add(5 * time.Second))
		fm, err := fr.ReadFrame()
		switch {
		case id == 2 && !errors.Is(err, docklink.ErrCRC):
			t.Fatalf("frame 2: %v, want a CRC error", err)
		case id != 2 && (err != nil || fm.Type != docklink.TypePong):
			t.Fatalf("frame %d: %+v %v", id, fm, err)
		}
	}
	_ = devEnd
}

func TestWrongHashFault(t *testing.T) {
	f, _ := recsim.ParseFault("wrong-hash=3")
	r := load(t, &recsim.Config{Faults: []recsim.Fault{f}})
	s := r.Segments()[2]
	ra, _ := r.OpenSegment(3)
	b, _ := io.ReadAll(io.NewSectionReader(ra, 0, int64(s.Size)))
	ra.(io.Closer).Close()
	if sum(b) == s.SHA256 {
		t.Fatal("recorded hash equals the content's")
	}
	// Neither the true hash nor the recorded one frees it.
	if err := r.Release(3, sum(b)); !errors.Is(err, device.ErrHashMismatch) {
		t.Fatalf("release with the true hash: %v", err)
	}
	if err := r.Release(3, s.SHA256); !errors.Is(err, device.ErrHashMismatch) {
		t.Fatalf("release with the recorded hash: %v", err)
	}
	if len(r.Segments()) != 6 {
		t.Fatal("segment freed")
	}
	if _, err := recsim.Load(fixtureDir, &recsim.Config{Faults: []recsim.Fault{{Kind: recsim.FaultWrongHash, N: 99}}}); !errors.Is(err, recsim.ErrFault) {
		t.Fatalf("wrong-hash of an absent seq: %v", err)
	}
}

func TestMissingSeqFault(t *testing.T) {
	r := load(t, &recsim.Config{Faults: []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: 3}}})
	var seqs []uint64
	for _, s := range r.Segments() {
		seqs = append(seqs, s.Seq)
	}
	if !slices.Equal(seqs, []uint64{1, 2, 4, 5, 6}) || r.Status().LastSeq != 6 {
		t.Fatalf("seqs %v last_seq %d, want a hole at 3", seqs, r.Status().LastSeq)
	}
	if _, err := r.OpenSegment(3); !errors.Is(err, device.ErrUnknownSegment) {
		t.Fatalf("open missing seq: %v", err)
	}
	// A hole at the end shows only in last_seq.
	r2 := load(t, &recsim.Config{Faults: []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: 8}}})
	if len(r2.Segments()) != 6 || r2.Status().LastSeq != 8 {
		t.Fatalf("end hole: %d segments, last_seq %d", len(r2.Segments()), r2.Status().LastSeq)
	}
}

func TestAuthFault(t *testing.T) {
	r := load(t, &recsim.Config{Faults: []recsim.Fault{{Kind: recsim.FaultAuth}}})
	var nonce [32]byte
	sig, err := r.Sign(docklink.AuthMessage(nonce, r.Serial()))
	if err != nil {
		t.Fatal(err)
	}
	if docklink.VerifyAuth(r.PublicKey(), nonce, r.Serial(), [64]byte(sig)) {
		t.Fatal("signature verifies with the enrolled key despite the auth fault")
	}
	ok := load(t, nil)
	sig, _ = ok.Sign(docklink.AuthMessage(nonce, ok.Serial()))
	if !docklink.VerifyAuth(ok.PublicKey(), nonce, ok.Serial(), [64]byte(sig)) {
		t.Fatal("a healthy recorder's signature does not verify")
	}
}

func TestDyingBattery(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC))
	r := load(t, &recsim.Config{Clock: clk, Battery: docklink.Battery{MilliVolts: 3700, Percent: 40, HealthPercent: 61, Cycles: 800, TempDeciC: 300, Charge: docklink.ChargeCharging},
		Faults: []recsim.Fault{{Kind: recsim.FaultDyingBattery, Duration: 40 * time.Minute}}})
	if st := r.Status(); st.Battery.Percent != 40 || st.Battery.Charge != docklink.ChargeFault {
		t.Fatalf("start %+v", st.Battery)
	}
	clk.Advance(20 * time.Minute)
	st := r.Status()
	if st.Battery.Percent != 20 || st.Battery.MilliVolts >= 3700 {
		t.Fatalf("after 20 of 40 min: %+v", st.Battery)
	}
	clk.Advance(10 * time.Minute) // 10 %: below the 15 % alarm
	evs := r.Events()
	if last := evs[len(evs)-1]; last.Kind != docklink.EventLowBattery {
		t.Fatalf("no low-battery alarm: %+v", last)
	}
	// A session open while the battery dies is cut; the dead recorder answers nothing.
	dockEnd, _ := pipe(t, r)
	fr := docklink.NewFramer(dockEnd, dockEnd)
	fr.WriteMessage(1, &docklink.Ping{})
	dockEnd.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatalf("ping before empty: %v", err)
	}
	clk.Advance(11 * time.Minute)
	if !r.PoweredOff() {
		t.Fatal("not powered off at empty")
	}
	fr.WriteMessage(2, &docklink.Ping{})
	dockEnd.SetReadDeadline(time.Now().Add(5 * time.Second))
	if f, err := fr.ReadFrame(); err == nil {
		t.Fatalf("dead recorder answered %+v", f)
	}
	if err := r.ServeConn(context.Background(), nopConn{}); !errors.Is(err, recsim.ErrPoweredOff) {
		t.Fatalf("ServeConn on a dead recorder: %v", err)
	}
	evs = r.Events()
	if last := evs[len(evs)-1]; last.Kind != docklink.EventPowerOff {
		t.Fatalf("no power-off event: %+v", last)
	}
}

func TestClockDrift(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(t0)
	r := load(t, &recsim.Config{Clock: clk, ClockOffset: 3 * time.Second, DriftPPM: 100})
	if got := r.Clock(); !got.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("clock %s", got)
	}
	clk.Advance(time.Hour)
	want := t0.Add(time.Hour + 3*time.Second + 360*time.Millisecond)
	if got := r.Clock(); !got.Equal(want) {
		t.Fatalf("after an hour at +100 ppm: %s, want %s", got, want)
	}
	set := clk.Now()
	if err := r.SetClock(set); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	if got := r.Clock(); !got.Equal(set.Add(10*time.Second + time.Millisecond)) {
		t.Fatalf("after set: %s", got)
	}
	if err := r.SetClock(time.Unix(5, 0)); !errors.Is(err, device.ErrBadClock) {
		t.Fatalf("set to 1970: %v", err)
	}
}

func TestStorageAndRelease(t *testing.T) {
	r := load(t, nil)
	st := r.Status().Storage
	segs := r.Segments()
	var held uint64
	for _, s := range segs {
		held += s.Size
	}
	if st.TotalBytes != 64<<30 || st.FreeBytes != st.TotalBytes-held {
		t.Fatalf("storage %+v", st)
	}
	if err := r.Release(1, segs[0].SHA256); err != nil {
		t.Fatal(err)
	}
	if got := r.Status().Storage.FreeBytes; got != st.FreeBytes+segs[0].Size {
		t.Fatalf("free %d after release, want %d", got, st.FreeBytes+segs[0].Size)
	}
	if err := r.Release(1, segs[0].SHA256); !errors.Is(err, device.ErrUnknownSegment) {
		t.Fatalf("second release: %v", err)
	}
	if evs := r.Events(); evs[len(evs)-1].Kind != docklink.EventReleased || evs[len(evs)-1].Seq != 1 {
		t.Fatalf("no released event: %+v", evs[len(evs)-1])
	}
	full := load(t, &recsim.Config{Storage: docklink.Storage{TotalBytes: 1 << 30, FreeBytes: 0, HealthPercent: 12, ReadErrors: 4, BadBlocks: 31}})
	if st := full.Status().Storage; st.FreeBytes != 0 || st.HealthPercent != 12 || st.BadBlocks != 31 {
		t.Fatalf("configured storage %+v", st)
	}
	if _, err := recsim.Load(fixtureDir, &recsim.Config{Storage: docklink.Storage{TotalBytes: 1, FreeBytes: 2}}); !errors.Is(err, recsim.ErrConfig) {
		t.Fatalf("free above total: %v", err)
	}
}

func TestStatePersistence(t *testing.T) {
	dir := t.TempDir()
	r, err := recsim.Generate(11, &recsim.GenOpts{Segments: 4, MinSize: 4096}, &recsim.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	segs := r.Segments()
	for _, s := range segs[:2] {
		if err := r.Release(s.Seq, s.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetClock(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	evsBefore := r.Events()
	again, err := recsim.Generate(11, &recsim.GenOpts{Segments: 4, MinSize: 4096}, &recsim.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Released(); !slices.Equal(got, []uint64{1, 2}) || len(again.Segments()) != 2 {
		t.Fatalf("reloaded released %v, holds %d", got, len(again.Segments()))
	}
	if got := again.Events(); !slices.EqualFunc(got, evsBefore, func(a, b docklink.Event) bool {
		return a.Index == b.Index && a.Kind == b.Kind && a.Seq == b.Seq && a.Time.Equal(b.Time)
	}) {
		t.Fatalf("event log not kept:\n%+v\n%+v", got, evsBefore)
	}
	if again.Status().LastSeq != 4 {
		t.Fatalf("last_seq %d", again.Status().LastSeq)
	}
	// A state file whose released hash is not the footage's is refused.
	other, err := recsim.Generate(12, &recsim.GenOpts{Segments: 4, MinSize: 4096}, &recsim.Config{Serial: "BWC-SIM-11", StateDir: dir})
	if !errors.Is(err, recsim.ErrState) {
		t.Fatalf("foreign state accepted: %v %v", other, err)
	}
	if err := os.WriteFile(recsim.StateFile(dir, "BWC-SIM-11"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := recsim.Generate(11, nil, &recsim.Config{StateDir: dir}); !errors.Is(err, recsim.ErrState) {
		t.Fatalf("corrupt state accepted: %v", err)
	}
}

func TestServerReconnectKeepsState(t *testing.T) {
	recs, err := recsim.NewFleet(recsim.FleetOpts{Count: 3, Seed: 100, Gen: &recsim.GenOpts{Segments: 3, MinSize: 2048}})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, recs, nil)
	eps := srv.Endpoints()
	if len(eps) != 3 || eps[0].Serial == eps[1].Serial || eps[0].Addr == eps[1].Addr {
		t.Fatalf("endpoints %+v", eps)
	}
	keys := keysOf(recs...)
	ctx := context.Background()
	c := session(t, eps[1].Addr, keys)
	segs, err := c.Inventory(ctx)
	if err != nil || len(segs) != 3 {
		t.Fatalf("inventory %v %v", segs, err)
	}
	if err := c.Release(ctx, segs[0].Seq, segs[0].SHA256); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c2 := session(t, eps[1].Addr, keys) // a new link, same recorder
	segs2, err := c2.Inventory(ctx)
	if err != nil || len(segs2) != 2 || segs2[0].Seq != 2 {
		t.Fatalf("after reconnect: %v %v", segs2, err)
	}
	// The others are untouched and authenticate with their own keys.
	c3 := session(t, eps[2].Addr, keys)
	if info, err := c3.Authenticate(ctx, keys); err != nil || info.Serial != eps[2].Serial {
		t.Fatalf("recorder 2: %+v %v", info, err)
	}
}

func TestParseFault(t *testing.T) {
	good := map[string]recsim.Fault{
		"disconnect=4M":     {Kind: recsim.FaultDisconnect, N: 4 << 20},
		"disconnect=1000":   {Kind: recsim.FaultDisconnect, N: 1000},
		"corrupt-frame":     {Kind: recsim.FaultCorruptFrame, N: 1},
		"corrupt-frame=7":   {Kind: recsim.FaultCorruptFrame, N: 7},
		"wrong-hash=2":      {Kind: recsim.FaultWrongHash, N: 2},
		"missing-seq=3":     {Kind: recsim.FaultMissingSeq, N: 3},
		"dying-battery":     {Kind: recsim.FaultDyingBattery, Duration: recsim.DefaultDyingBattery},
		"dying-battery=90s": {Kind: recsim.FaultDyingBattery, Duration: 90 * time.Second},
		"auth":              {Kind: recsim.FaultAuth},
	}
	for s, want := range good {
		got, err := recsim.ParseFault(s)
		if err != nil || got != want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if again, err := recsim.ParseFault(got.String()); err != nil || again != got {
			t.Errorf("%q: String %q does not parse back: %+v %v", s, got.String(), again, err)
		}
	}
	for _, s := range []string{"", "nope", "disconnect", "disconnect=0", "disconnect=x", "wrong-hash", "wrong-hash=0", "auth=1", "dying-battery=-1s", "corrupt-frame=0", "disconnect=99999999999999G"} {
		if _, err := recsim.ParseFault(s); !errors.Is(err, recsim.ErrFault) {
			t.Errorf("ParseFault(%q) = %v, want ErrFault", s, err)
		}
	}
}

type nopConn struct{}

func (nopConn) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopConn) Write(p []byte) (int, error) { return len(p), nil }
func (nopConn) Close() error                { return nil }

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	want := recsim.DeriveKey("k")
	seed := want.Seed()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(want)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"raw":  seed,
		"hex":  []byte(hex.EncodeToString(seed) + "\n"),
		"b64":  []byte(base64.StdEncoding.EncodeToString(seed)),
		"pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"junk": []byte("not a key"),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		k, err := recsim.LoadKey(p)
		if name == "junk" {
			if !errors.Is(err, recsim.ErrConfig) {
				t.Errorf("junk key: %v", err)
			}
			continue
		}
		if err != nil || !k.Equal(want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	r := load(t, &recsim.Config{Key: want})
	if !r.PublicKey().Equal(want.Public()) {
		t.Fatal("Config.Key not used")
	}
}

// The release log records each release in order with the true time on the
// recorder's clock (the one a test shares with the collector) beside the
// device's own, and survives a reload from the state file.
func TestReleaseLog(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(t0)
	state := t.TempDir()
	r := load(t, &recsim.Config{Clock: clk, ClockOffset: 5 * time.Second, StateDir: state})
	segs := r.Segments()
	var want []recsim.Release
	for i, g := range []docklink.Segment{segs[2], segs[0]} {
		clk.Advance(time.Minute)
		if err := r.Release(g.Seq, g.SHA256); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(i+1) * time.Minute)
		want = append(want, recsim.Release{Seq: g.Seq, SHA256: hex.EncodeToString(g.SHA256[:]), Size: g.Size, Time: at.Add(5 * time.Second), At: at})
	}
	// A refused release is not logged.
	if err := r.Release(segs[1].Seq, [32]byte{1}); err == nil {
		t.Fatal("a release naming the wrong hash was accepted")
	}
	same := func(got []recsim.Release) bool {
		return slices.EqualFunc(got, want, func(a, b recsim.Release) bool {
			return a.Seq == b.Seq && a.SHA256 == b.SHA256 && a.Size == b.Size && a.Time.Equal(b.Time) && a.At.Equal(b.At)
		})
	}
	if got := r.ReleaseLog(); !same(got) {
		t.Fatalf("release log %+v, want %+v", got, want)
	}
	again := load(t, &recsim.Config{Clock: clk, StateDir: state})
	if got := again.ReleaseLog(); !same(got) {
		t.Fatalf("reloaded release log %+v, want %+v", got, want)
	}
}

package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/conformance"
	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

var epoch = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// pipeDialer serves rec on a fresh net.Pipe per dial, optionally through a
// middlebox, and joins every goroutine at test cleanup.
func pipeDialer(t *testing.T, rec device.Backend, opts *device.Opts, middle func(dockSide, devSide net.Conn, wg *sync.WaitGroup)) conformance.Dialer {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	return func(context.Context) (io.ReadWriteCloser, error) {
		dockEnd, devEnd := net.Pipe()
		if middle != nil {
			a, b := net.Pipe()
			middle(devEnd, a, &wg)
			devEnd = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer devEnd.Close()
			if err := device.Serve(ctx, devEnd, rec, opts); err != nil {
				t.Errorf("serve: %v", err)
			}
		}()
		return dockEnd, nil
	}
}

func newRecorder() *devicetest.Recorder {
	rec := devicetest.New("BWC-CONF", 4, nil)
	rec.AddRandom(4, 150<<10, 1, epoch)
	rec.AddSegment(nil, docklink.Segment{Start: epoch, End: epoch, StopCause: docklink.StopFault}) // an empty segment
	return rec
}

func run(t *testing.T, dial conformance.Dialer, opts *conformance.Opts) *conformance.Report {
	t.Helper()
	if opts == nil {
		opts = &conformance.Opts{}
	}
	opts.CheckTimeout = 10 * time.Second
	rep := conformance.Run(context.Background(), dial, opts)
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	return rep
}

func result(rep *conformance.Report, rule, nameHas string) conformance.Result {
	for _, r := range rep.Results {
		if r.Rule == rule && strings.Contains(r.Name, nameHas) {
			return r
		}
	}
	return conformance.Result{Rule: rule, Detail: "no such check"}
}

func TestReferenceDeviceConforms(t *testing.T) {
	rec := newRecorder()
	rep := run(t, pipeDialer(t, rec, nil, nil), &conformance.Opts{Keys: docklink.Keys{"BWC-CONF": rec.PublicKey()}})
	if !rep.Passed() {
		t.Fatalf("reference device fails: %+v", rep.Failed())
	}
	if rep.Device.Serial != "BWC-CONF" {
		t.Fatalf("device %+v", rep.Device)
	}
	if r := result(rep, "§11.4", "right hash"); !r.Skip {
		t.Fatalf("release with the right hash ran without opt-in: %+v", r)
	}
	if len(rec.Released()) != 0 {
		t.Fatalf("released %v without opt-in", rec.Released())
	}
	// PROTOCOL.md §15 lists every check by rule and name.
	spec, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !strings.Contains(string(spec), "| "+r.Rule+" | "+r.Name+" |") {
			t.Errorf("PROTOCOL.md §15 does not list %s %q", r.Rule, r.Name)
		}
	}
	var b bytes.Buffer
	rep.WriteTable(&b)
	if !strings.Contains(b.String(), "CONFORMS") || !strings.Contains(b.String(), "§3.4") {
		t.Fatalf("table:\n%s", b.String())
	}
}

func TestReleaseOptIn(t *testing.T) {
	rec := newRecorder()
	rep := run(t, pipeDialer(t, rec, nil, nil), &conformance.Opts{Release: true, SetClock: true})
	if !rep.Passed() {
		t.Fatalf("fails: %+v", rep.Failed())
	}
	if r := result(rep, "§11.4", "right hash"); !r.Pass {
		t.Fatalf("release check: %+v", r)
	}
	if got := rec.Released(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("released %v, want [1]", got)
	}
	if r := result(rep, "§6.2", "Ed25519"); !strings.Contains(r.Detail, "announced") {
		t.Fatalf("auth detail should say enrolment was not checked: %+v", r)
	}
}

func TestFailsOnWrongRecorderHash(t *testing.T) {
	rec := newRecorder()
	rec.CorruptHash(2)
	rep := run(t, pipeDialer(t, rec, nil, nil), nil)
	if rep.Passed() {
		t.Fatal("a recorder with a wrong segment hash passes")
	}
	failed := rep.Failed()
	if len(failed) != 1 || failed[0].Rule != "§9.3" || !strings.Contains(failed[0].Detail, "seq 2") {
		t.Fatalf("failed %+v, want only §9.3 naming seq 2", failed)
	}
}

func TestFailsOnUnenrolledKey(t *testing.T) {
	rec := newRecorder()
	other := devicetest.New("BWC-CONF", 9, nil)
	rep := run(t, pipeDialer(t, rec, nil, nil), &conformance.Opts{Keys: docklink.Keys{"BWC-CONF": other.PublicKey()}})
	if r := result(rep, "§6.2", "Ed25519"); r.Pass || r.Skip {
		t.Fatalf("auth against the wrong key: %+v", r)
	}
}

// crcFixer is a middlebox that recomputes the CRC of every frame the dock
// sends, so the device never sees a CRC error: a device that does not check
// CRC-32C, as the conformance suite sees it.
func crcFixer(devSide, mid net.Conn, wg *sync.WaitGroup) {
	wg.Add(2)
	go func() { // dock -> device, fixing CRCs
		defer wg.Done()
		defer mid.Close()
		br := bufio.NewReaderSize(devSide, 64<<10)
		for {
			blk, err := br.ReadSlice(0)
			if err == bufio.ErrBufferFull {
				if _, err := mid.Write(blk); err != nil {
					return
				}
				continue
			}
			if err != nil {
				return
			}
			out := blk
			if plain, derr := docklink.DecodeCOBS(nil, blk[:len(blk)-1]); derr == nil && len(plain) >= 16 {
				body := plain[:len(plain)-4]
				plain = binary.BigEndian.AppendUint32(body, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
				out = append(docklink.AppendCOBS(nil, plain), 0)
			}
			if _, err := mid.Write(out); err != nil {
				return
			}
		}
	}()
	go func() { // device -> dock unchanged
		defer wg.Done()
		defer devSide.Close()
		io.Copy(devSide, mid)
	}()
}

func TestFailsOnDeviceIgnoringCRC(t *testing.T) {
	rec := newRecorder()
	rep := run(t, pipeDialer(t, rec, nil, crcFixer), nil)
	failed := rep.Failed()
	if len(failed) != 1 || failed[0].Rule != "§3.4" {
		t.Fatalf("failed %+v, want only §3.4", failed)
	}
}

func TestNoReleaseCapabilitySkips(t *testing.T) {
	rec := newRecorder()
	rep := run(t, pipeDialer(t, rec, &device.Opts{Capabilities: docklink.CapClockSet | docklink.CapEvents}, nil), &conformance.Opts{Release: true})
	if !rep.Passed() {
		t.Fatalf("fails: %+v", rep.Failed())
	}
	for _, r := range rep.Results {
		if r.Rule == "§11.4" && !r.Skip {
			t.Fatalf("release check ran without the capability: %+v", r)
		}
	}
}

func TestDialFailureFailsEveryCheck(t *testing.T) {
	dial := func(context.Context) (io.ReadWriteCloser, error) { return nil, io.ErrClosedPipe }
	rep := conformance.Run(context.Background(), dial, &conformance.Opts{CheckTimeout: time.Second})
	if rep.Passed() || len(rep.Failed()) == 0 {
		t.Fatalf("passed without a device: %+v", rep.Results)
	}
}

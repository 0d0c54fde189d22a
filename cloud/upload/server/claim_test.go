package server

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// A dock that learnt the SHA-256 of another unit's footage may not have it
// receipted as a segment of its own recorder, neither by naming the hash
// (no byte sent: the held-object shortcut) nor by sending the bytes: the
// receipt would let its unit's supervisors play and export the other
// unit's footage. Each claim is a typed 403, counted, logged and alerted
// to the footage's unit; no receipt is written; the footage's own receipt
// and a claim within the dock's own unit stand.
func TestClaimOfAnotherUnitsFootageRefused(t *testing.T) {
	bothBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		e.enrol(t)
		ctx := context.Background()
		const dockB, tokB = "dock-b", "dock-b-token-0123456789"
		if err := e.st.EnrollDock(ctx, dockB, "unit-2", tokB); err != nil {
			t.Fatal(err)
		}
		data, sum := payload(20_000, 51)
		// dock-1 (unit-1) starts an upload naming the hash before the
		// footage is held, so its finish meets a held object.
		early := e.begin(t, "REC-A", 98, int64(len(data)), sum)
		bRec, err := e.client(t, uploader.ClientOpts{Dock: dockB, Token: tokB}).Upload(ctx, "REC-B", 5, int64(len(data)), sum, bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}

		// By hash only.
		before := e.rejections(upload.ReasonRecorderRefused)
		resp, eb, body := e.send(t, req{method: "POST", path: upload.PathPrefix, body: createBody("REC-A", 99, int64(len(data)), sum)})
		// The dock is told the typed refusal, not whose footage it is.
		if resp.StatusCode != http.StatusForbidden || eb.Reason != upload.ReasonRecorderRefused || eb.Error != claimRefused ||
			strings.Contains(string(body), "REC-B") || strings.Contains(string(body), bRec.ObjectID) {
			t.Fatalf("claim by hash: %d %s", resp.StatusCode, body)
		}
		// With the bytes (finish onto the held object).
		if resp, _, body := e.send(t, chunkReq(early, 0, data)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("chunk: %d %s", resp.StatusCode, body)
		}
		resp, eb, body = e.send(t, req{method: "POST", path: upload.PathPrefix + "/" + early + "/finish"})
		if resp.StatusCode != http.StatusForbidden || eb.Reason != upload.ReasonRecorderRefused {
			t.Fatalf("claim with bytes: %d %s", resp.StatusCode, body)
		}
		// The uploader sees a permanent, typed refusal.
		_, err = e.client(t, uploader.ClientOpts{}).Upload(ctx, "REC-A", 97, int64(len(data)), sum, bytes.NewReader(data), nil)
		var ue *upload.Error
		if !asErr(err, &ue) || ue.Status != http.StatusForbidden || upload.Retryable(err) {
			t.Fatalf("client: %v", err)
		}
		if got := e.rejections(upload.ReasonRecorderRefused) - before; got != 3 {
			t.Errorf("%v refusals counted, want 3", got)
		}
		for _, seq := range []uint64{97, 98, 99} {
			if e.receiptRows("REC-A", seq) != 0 {
				t.Errorf("REC-A/%d receipted to unit-2's footage", seq)
			}
		}
		if have, ok, err := e.st.Receipt(ctx, "REC-B", 5); err != nil || !ok || have != bRec {
			t.Errorf("REC-B/5's receipt %+v %v %v, want %+v", have, ok, err, bRec)
		}
		as := e.alerts(t, store.KindRecorderRefused)
		if len(as) != 1 || as[0].Unit != "unit-2" || as[0].Serial != "REC-B" || as[0].Dock != testDock || !strings.Contains(as[0].Detail, "claimed as REC-A") ||
			!strings.Contains(as[0].Detail, "receipted as REC-B/5") {
			t.Fatalf("alerts: %+v", as)
		}

		// Footage held within the dock's own unit is still receipted
		// without a second copy (the shortcut's purpose).
		own, osum := payload(20_000, 52)
		if _, err := e.client(t, uploader.ClientOpts{Dock: otherDock, Token: otherTok}).Upload(ctx, "REC-A", 1, 20_000, osum, bytes.NewReader(own), nil); err != nil {
			t.Fatal(err)
		}
		dedup := e.receipts(outcomeDedup)
		if _, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "REC-A2", 1, 20_000, osum, bytes.NewReader(own), nil); err != nil {
			t.Fatalf("claim within the unit: %v", err)
		}
		if e.receipts(outcomeDedup) != dedup+1 {
			t.Error("the claim within the unit was not the held-object shortcut")
		}
	})
}

// Footage of a recorder enrolled nowhere (accepted from any dock under the
// default policy) belongs to the unit of the dock that uploaded it: a dock
// of another unit that learnt its SHA-256 may not have it receipted as its
// own recorder's segment, by hash or with the bytes, whether its recorder
// is enrolled or not. Each claim is a typed 403, counted, logged and
// alerted to the footage's unit, and names no held object. The uploading
// dock's retries and its own further claims, and a claim by another dock
// of its unit (a recorder moved between them), stand; so does a claim of
// footage whose receipt names no dock (recorded before migration 0016),
// as before.
func TestClaimOfAnotherUnitsUnenrolledFootageRefused(t *testing.T) {
	bothBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		e.enrol(t)
		ctx := context.Background()
		const dockB, tokB = "dock-b", "dock-b-token-0123456789"
		if err := e.st.EnrollDock(ctx, dockB, "unit-2", tokB); err != nil {
			t.Fatal(err)
		}
		asB := map[string]string{upload.HeaderDock: dockB, "Authorization": "Bearer " + tokB}
		data, sum := payload(20_000, 61)
		// dock-b starts an upload naming the hash before the footage is
		// held, so its finish meets a held object.
		resp, _, body := e.send(t, req{method: "POST", path: upload.PathPrefix, hdr: asB, body: createBody("FREE-B", 2, int64(len(data)), sum)})
		var st upload.Status
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &st) != nil || st.Upload == "" {
			t.Fatalf("dock-b create: %d %s", resp.StatusCode, body)
		}
		// dock-1 (unit-1) uploads the footage of FREE-A, enrolled nowhere.
		aRec, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "FREE-A", 5, int64(len(data)), sum, bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}

		before := e.rejections(upload.ReasonRecorderRefused)
		// By hash only, for dock-b's recorders enrolled nowhere and enrolled to unit-2.
		for _, c := range []struct {
			device string
			seq    uint64
		}{{"FREE-B", 1}, {"REC-B", 7}} {
			resp, eb, body := e.send(t, req{method: "POST", path: upload.PathPrefix, hdr: asB, body: createBody(c.device, c.seq, int64(len(data)), sum)})
			if resp.StatusCode != http.StatusForbidden || eb.Reason != upload.ReasonRecorderRefused || eb.Error != claimRefused ||
				strings.Contains(string(body), "FREE-A") || strings.Contains(string(body), "unit-1") || strings.Contains(string(body), aRec.ObjectID) {
				t.Fatalf("claim as %s/%d by hash: %d %s", c.device, c.seq, resp.StatusCode, body)
			}
		}
		// With the bytes (finish onto the held object).
		chunk := chunkReq(st.Upload, 0, data)
		maps.Copy(chunk.hdr, asB)
		if resp, _, body := e.send(t, chunk); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("chunk: %d %s", resp.StatusCode, body)
		}
		resp, eb, body := e.send(t, req{method: "POST", path: upload.PathPrefix + "/" + st.Upload + "/finish", hdr: asB})
		if resp.StatusCode != http.StatusForbidden || eb.Reason != upload.ReasonRecorderRefused || eb.Error != claimRefused ||
			strings.Contains(string(body), "FREE-A") || strings.Contains(string(body), aRec.ObjectID) {
			t.Fatalf("claim with bytes: %d %s", resp.StatusCode, body)
		}
		if got := e.rejections(upload.ReasonRecorderRefused) - before; got != 3 {
			t.Errorf("%v refusals counted, want 3", got)
		}
		for _, k := range []struct {
			device string
			seq    uint64
		}{{"FREE-B", 1}, {"FREE-B", 2}, {"REC-B", 7}} {
			if e.receiptRows(k.device, k.seq) != 0 {
				t.Errorf("%s/%d receipted to unit-1's footage", k.device, k.seq)
			}
		}
		as := e.alerts(t, store.KindRecorderRefused)
		if len(as) != 1 || as[0].Unit != "unit-1" || as[0].Serial != "FREE-A" || as[0].Dock != dockB || as[0].Key != "recorder-refused/claim/unit-1/dock-b/FREE-A" ||
			!strings.Contains(as[0].Detail, "claimed as FREE-B") || strings.Contains(as[0].Detail, aRec.ObjectID) {
			t.Fatalf("alerts: %+v", as)
		}

		// The uploading dock: a retry gets the receipt it has; a claim of
		// the footage for another seq or recorder is its own.
		c1 := e.client(t, uploader.ClientOpts{})
		if again, err := c1.Upload(ctx, "FREE-A", 5, int64(len(data)), sum, bytes.NewReader(data), nil); err != nil || again != aRec {
			t.Fatalf("retry by the uploading dock: %+v %v, want %+v", again, err, aRec)
		}
		for _, k := range []struct {
			device string
			seq    uint64
		}{{"FREE-A", 6}, {"FREE-C", 1}} {
			if _, err := c1.Upload(ctx, k.device, k.seq, int64(len(data)), sum, bytes.NewReader(data), nil); err != nil {
				t.Fatalf("claim as %s/%d by the uploading dock: %v", k.device, k.seq, err)
			}
		}
		// Another dock of unit-1: FREE-A moved to it and it holds segment
		// 5 too, and it claims the footage for its own recorder.
		c2 := e.client(t, uploader.ClientOpts{Dock: otherDock, Token: otherTok})
		dedup := e.receipts(outcomeDedup)
		for _, k := range []struct {
			device string
			seq    uint64
		}{{"FREE-A", 5}, {"FREE-D", 1}, {"REC-A", 1}} {
			if _, err := c2.Upload(ctx, k.device, k.seq, int64(len(data)), sum, bytes.NewReader(data), nil); err != nil {
				t.Fatalf("claim as %s/%d within unit-1: %v", k.device, k.seq, err)
			}
		}
		if got := e.receipts(outcomeDedup) - dedup; got != 2 {
			t.Errorf("%v claims within the unit took the held-object shortcut, want 2", got)
		}
		if got := e.rejections(upload.ReasonRecorderRefused) - before; got != 3 {
			t.Errorf("%v refusals counted after the claims that stand, want 3", got)
		}

		// A receipt naming no dock (as recorded before migration 0016):
		// the footage's unit is unknown, and dock-b's claim stands as it
		// did before.
		old, osum := payload(20_000, 62)
		e.legacyReceipt(t, "FREE-OLD", 1, old, osum)
		if _, err := e.client(t, uploader.ClientOpts{Dock: dockB, Token: tokB}).Upload(ctx, "FREE-B", 3, int64(len(old)), osum, bytes.NewReader(old), nil); err != nil {
			t.Fatalf("claim of footage with a legacy receipt: %v", err)
		}
	})
}

// legacyReceipt holds data and records its receipt as device/seq naming
// no dock, as the receipts recorded before migration 0016 are.
func (e *env) legacyReceipt(t *testing.T, device string, seq uint64, data []byte, sum string) {
	t.Helper()
	ctx := context.Background()
	id := sum[:32] // a staging id of no dock
	if _, err := e.ev.Begin(ctx, id, int64(len(data)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ev.Append(ctx, id, 0, bytes.NewReader(data), int64(len(data)), sum); err != nil {
		t.Fatal(err)
	}
	obj, err := e.ev.Commit(ctx, id, sum, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	r := wire.Receipt{ObjectID: obj.Ref(), Device: device, Seq: seq, SHA256: sum, Size: int64(len(data)), StoredAt: e.srv.clock.Now().UTC()}
	r.Sign(KeyID(e.pub), e.key)
	if err := e.st.RecordReceipt(ctx, r); err != nil {
		t.Fatal(err)
	}
}

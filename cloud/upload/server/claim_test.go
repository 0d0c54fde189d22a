package server

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/store"
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
		if resp.StatusCode != http.StatusForbidden || eb.Reason != upload.ReasonRecorderRefused || !strings.Contains(eb.Error, "REC-B/5") {
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
		if len(as) != 1 || as[0].Unit != "unit-2" || as[0].Serial != "REC-B" || as[0].Dock != testDock || !strings.Contains(as[0].Detail, "claimed as REC-A") {
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

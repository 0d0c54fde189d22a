package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire/upload"
)

func bothBackends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, sqliteBackend(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, pgBackend(t)) })
}

// enrol puts testDock's unit-1 and a unit-2 in the registry with a recorder
// each: REC-A (unit-1) and REC-B (unit-2).
func (e *env) enrol(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, u := range []string{"unit-1", "unit-2"} {
		if err := e.st.EnrollUnit(ctx, store.Unit{ID: u, Custodian: "cust-" + u}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range []store.Recorder{{Serial: "REC-A", Unit: "unit-1"}, {Serial: "REC-B", Unit: "unit-2"}} {
		pub, _, _ := ed25519.GenerateKey(nil)
		r.PublicKey = pub
		if err := e.st.EnrollRecorder(ctx, r, "test"); err != nil {
			t.Fatalf("recorder %d: %v", i, err)
		}
	}
}

func (e *env) alerts(t *testing.T, kind string) []store.Alert {
	t.Helper()
	as, err := e.st.Alerts(context.Background(), store.AlertFilter{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// A dock may not upload for a recorder enrolled to another unit: 403 with
// the reason, counted, and an alert to the recorder's unit; its own unit's
// recorder uploads.
func TestRecorderOfAnotherUnitRefused(t *testing.T) {
	bothBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		e.enrol(t)
		var announced []store.Alert
		e.srv.announce = func(_ context.Context, a store.Alert) { announced = append(announced, a) }
		data, sum := payload(20_000, 21)
		resp, eb, _ := e.send(t, req{method: "POST", path: upload.PathPrefix, body: createBody("REC-B", 7, 20_000, sum)})
		if resp.StatusCode != http.StatusForbidden || eb.Reason != upload.ReasonRecorderRefused || eb.Error == "" {
			t.Fatalf("upload for another unit's recorder: %d %+v", resp.StatusCode, eb)
		}
		if e.rejections(upload.ReasonRecorderRefused) != 1 {
			t.Error("refusal not counted")
		}
		as := e.alerts(t, store.KindRecorderRefused)
		if len(as) != 1 || as[0].Unit != "unit-2" || as[0].Dock != testDock || as[0].Serial != "REC-B" {
			t.Fatalf("alerts: %+v", as)
		}
		if e.receiptRows("REC-B", 7) != 0 || len(e.stagings()) != 0 {
			t.Fatalf("refused upload left state: %v", e.stagings())
		}
		// The client sees a typed, permanent rejection.
		_, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "REC-B", 7, 20_000, sum, bytes.NewReader(data), nil)
		var ue *upload.Error
		if !asErr(err, &ue) || ue.Status != http.StatusForbidden || upload.Retryable(err) {
			t.Fatalf("client: %v", err)
		}
		if len(announced) != 1 || announced[0].Unit != "unit-2" || announced[0].Kind != store.KindRecorderRefused {
			t.Errorf("announced %+v: want the one new alert, once", announced)
		}
		if _, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "REC-A", 7, 20_000, sum, bytes.NewReader(data), nil); err != nil {
			t.Fatalf("own unit's recorder: %v", err)
		}
		// A recorder not enrolled is accepted under the default policy, and counted.
		if _, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "REC-NEW", 1, 20_000, sum, bytes.NewReader(data), nil); err != nil {
			t.Fatalf("unenrolled recorder under the protected policy: %v", err)
		}
		if counterValue(e.srv.m.unenrolled) == 0 {
			t.Error("unenrolled upload not counted")
		}
	})
}

// A receipt for bytes not sent in this upload stands only on a held object
// that reads back to its hash.
func TestHeldObjectRehashed(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(30_000, 31)
	ctx := context.Background()
	if _, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "R1", 1, 30_000, sum, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	// Rot the held object on disk.
	var path string
	filepath.WalkDir(filepath.Join(e.evDir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == sum {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Fatalf("object %s not found in %v", sum, e.objects())
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[100] ^= 0xff
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	resp, _, body := e.send(t, req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, 30_000, sum)})
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("dedup onto a rotten object: %d %s", resp.StatusCode, body)
	}
	if e.receiptRows("R1", 2) != 0 {
		t.Fatal("receipt issued for a held object that does not verify")
	}
	if as := e.alerts(t, store.KindEvidenceCorrupt); len(as) != 1 || as[0].Severity != "critical" {
		t.Fatalf("alerts: %+v", as)
	}
}

// A receipt conflict (another upload already holds that device/seq with
// another hash) raises an alert to the recorder's unit.
func TestReceiptConflictAlerts(t *testing.T) {
	bothBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		e.enrol(t)
		ctx := context.Background()
		junk, jsum := payload(10_000, 41)
		if _, err := e.client(t, uploader.ClientOpts{Dock: otherDock, Token: otherTok}).Upload(ctx, "REC-A", 7, 10_000, jsum, bytes.NewReader(junk), nil); err != nil {
			t.Fatal(err)
		}
		real, rsum := payload(10_000, 42)
		_, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "REC-A", 7, 10_000, rsum, bytes.NewReader(real), nil)
		var ue *upload.Error
		if !asErr(err, &ue) || ue.Reason != upload.ReasonReceiptConflict {
			t.Fatalf("second claim: %v", err)
		}
		as := e.alerts(t, store.KindReceiptConflict)
		if len(as) != 1 || as[0].Unit != "unit-1" || as[0].Serial != "REC-A" || as[0].Seq != 7 || as[0].Dock != testDock {
			t.Fatalf("alerts: %+v", as)
		}
		// Neither the claiming dock nor the alert's readers learn the held
		// footage's hash (a hash claims footage by reference).
		if strings.Contains(ue.Message, jsum) || strings.Contains(as[0].Detail, jsum) || strings.Contains(as[0].Title, jsum) {
			t.Errorf("the held footage's hash leaks: answer %q, alert %q", ue.Message, as[0].Detail)
		}
	})
}

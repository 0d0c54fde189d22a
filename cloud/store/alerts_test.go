package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleAlert() Alert {
	return Alert{Key: "interruption/R1/8", Kind: "interruption-unexplained", Severity: "warning", Unit: "unit-3",
		Officer: "o-1001", Serial: "R1", Seq: 8, Dock: "dock-1", Title: "interrupted, no spoken reason",
		Detail: "stopped (low-battery) after seq 7", At: t0,
		Evidence: json.RawMessage(`{"stop_cause":"low-battery","speech_seconds":0.4}`)}
}

func TestAlertDedupAndStates(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		a := sampleAlert()
		created, err := s.UpsertAlert(ctx, a)
		if err != nil || !created {
			t.Fatalf("first upsert: created=%v err=%v", created, err)
		}
		got, ok, err := s.AlertByKey(ctx, a.Key)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if got.State != AlertOpen || got.Seq != 8 || !got.At.Equal(t0) || !got.OpenedAt.Equal(b.clock.Now()) || got.ID == 0 {
			t.Errorf("stored alert %+v", got)
		}
		var ev map[string]any
		if err := json.Unmarshal(got.Evidence, &ev); err != nil || ev["stop_cause"] != "low-battery" {
			t.Errorf("evidence %s: %v", got.Evidence, err)
		}
		// The same finding again: refreshed, not duplicated; escalation only rises.
		b.clock.Advance(time.Minute)
		a.Severity, a.Escalation = "critical", 2
		if created, err := s.UpsertAlert(ctx, a); err != nil || created {
			t.Fatalf("second upsert: created=%v err=%v", created, err)
		}
		a.Escalation = 1
		if _, err := s.UpsertAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
		list, err := s.Alerts(ctx, AlertFilter{})
		if err != nil || len(list) != 1 {
			t.Fatalf("alerts %+v %v", list, err)
		}
		if list[0].Severity != "critical" || list[0].Escalation != 2 || !list[0].UpdatedAt.Equal(b.clock.Now()) ||
			!list[0].OpenedAt.Equal(got.OpenedAt) {
			t.Errorf("refreshed alert %+v", list[0])
		}
		id := list[0].ID
		if err := s.EscalateAlert(ctx, id, 3); err != nil {
			t.Fatal(err)
		}
		// Acknowledge with the written explanation, then close.
		if err := s.AckAlert(ctx, id, "supervisor-1", "battery died; officer reported by radio"); err != nil {
			t.Fatal(err)
		}
		if err := s.EscalateAlert(ctx, id, 4); !errors.Is(err, ErrState) {
			t.Errorf("escalating an acknowledged alert: %v, want ErrState", err)
		}
		if err := s.AckAlert(ctx, id, "supervisor-3", "explanation amended"); err != nil {
			t.Errorf("a second acknowledgement: %v", err)
		}
		if err := s.ActOnAlert(ctx, id, AlertEvent{By: "supervisor-1", Role: "supervisor", Action: ActionExplain}); !errors.Is(err, ErrArgument) {
			t.Errorf("an empty explanation: %v, want ErrArgument", err)
		}
		if err := s.CloseAlert(ctx, id, "supervisor-2"); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"ack closed":   s.AckAlert(ctx, id, "x", "y"),
			"close closed": s.CloseAlert(ctx, id, "x"),
		} {
			if !errors.Is(err, ErrState) {
				t.Errorf("%s: %v, want ErrState", name, err)
			}
		}
		if err := s.AckAlert(ctx, id+1000, "x", "y"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ack unknown: %v, want ErrNotFound", err)
		}
		// The finding reported again after closing stays closed.
		a.Severity = "info"
		if created, err := s.UpsertAlert(ctx, a); err != nil || created {
			t.Errorf("upsert of a closed key: created=%v err=%v", created, err)
		}
		final, _, _ := s.AlertByKey(ctx, a.Key)
		if final.State != AlertClosed || final.Severity != "critical" || final.Escalation != 3 ||
			final.AcknowledgedBy != "supervisor-1" || final.Comment != "battery died; officer reported by radio" || final.ClosedBy != "supervisor-2" ||
			final.ClosedAt.IsZero() || final.AcknowledgedAt.IsZero() {
			t.Errorf("final alert %+v", final)
		}
		// The second acknowledgement did not replace the first: both are
		// in the append-only history, with the closing; refusals are not.
		if err := s.ActOnAlert(ctx, id, AlertEvent{By: "supervisor-2", Role: "supervisor", Action: ActionExplain,
			Comment: "written report filed"}); err != nil {
			t.Fatalf("explaining a closed alert: %v", err)
		}
		hist, err := s.AlertHistory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range hist {
			lines = append(lines, e.Action+" "+e.By+" "+e.Comment)
		}
		want := []string{"acknowledge supervisor-1 battery died; officer reported by radio",
			"acknowledge supervisor-3 explanation amended", "close supervisor-2 ", "explain supervisor-2 written report filed"}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("history\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if byID, ok, err := s.AlertByID(ctx, id); err != nil || !ok || byID.Key != a.Key {
			t.Errorf("AlertByID: %+v %v %v", byID, ok, err)
		}
	})
}

func TestAlertFilter(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for i, u := range []string{"unit-1", "unit-2", "unit-1"} {
			a := sampleAlert()
			a.Key, a.Unit = "k"+string(rune('a'+i)), u
			b.clock.Advance(time.Second)
			if _, err := s.UpsertAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.Alerts(ctx, AlertFilter{Unit: "unit-1", State: AlertOpen})
		if err != nil || len(list) != 2 || list[0].Key != "kc" || list[1].Key != "ka" {
			t.Fatalf("unit-1 open alerts %+v %v (want kc, ka: newest first)", list, err)
		}
		if err := s.CloseAlert(ctx, list[0].ID, "sup"); err != nil {
			t.Fatal(err)
		}
		if list, _ := s.Alerts(ctx, AlertFilter{State: AlertOpen}); len(list) != 2 {
			t.Errorf("%d open alerts, want 2", len(list))
		}
		if list, _ := s.Alerts(ctx, AlertFilter{Limit: 1}); len(list) != 1 {
			t.Errorf("limit 1 returned %d", len(list))
		}
		for _, bad := range []Alert{{}, {Key: "k"}, {Key: "k", Kind: "x", Severity: "info", Title: "t", Evidence: json.RawMessage("{")}} {
			if _, err := s.UpsertAlert(ctx, bad); !errors.Is(err, ErrArgument) {
				t.Errorf("UpsertAlert(%+v) = %v, want ErrArgument", bad, err)
			}
		}
	})
}

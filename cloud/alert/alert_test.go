package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

var t0 = time.Date(2026, 11, 24, 22, 5, 0, 0, time.UTC)

func sample() Alert {
	no := false
	return Alert{Key: "interruption/R1/8", Kind: "interruption-unexplained", Severity: SeverityWarning, Unit: "unit-3",
		Officer: "o-1001", Serial: "R1", Seq: 8, Title: "录制中断后恢复未口头说明 interrupted, no spoken reason",
		Detail: "stopped (low-battery) after seq 7, resumed 3m later with seq 8", At: t0, State: store.AlertOpen, Opened: t0,
		Evidence: Evidence{StoppedAt: t0.Add(-3 * time.Minute), ResumedAt: t0, StopCause: "low-battery",
			SpeechSeconds: 0.4, ReasonSpoken: &no}, Link: "https://console.example/alerts/link?a=interruption%2FR1%2F8&exp=1&sig=x"}
}

func TestWebhookFormats(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatDingTalk, FormatWeCom} {
		t.Run(format, func(t *testing.T) {
			var got map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &got); err != nil {
					t.Errorf("body is not JSON: %v", err)
				}
				io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
			}))
			defer srv.Close()
			w := &Webhook{URL: srv.URL, Format: format}
			if err := w.Deliver(context.Background(), sample()); err != nil {
				t.Fatal(err)
			}
			switch format {
			case FormatJSON:
				if got["key"] != "interruption/R1/8" || got["unit"] != "unit-3" {
					t.Fatalf("json alert: %v", got)
				}
			case FormatDingTalk:
				md := got["markdown"].(map[string]any)
				if got["msgtype"] != "markdown" || !strings.Contains(md["text"].(string), "R1") || md["title"] == "" {
					t.Fatalf("dingtalk: %v", got)
				}
			case FormatWeCom:
				md := got["markdown"].(map[string]any)
				if !strings.Contains(md["content"].(string), "console.example/alerts/link?a=interruption%2FR1%2F8") {
					t.Fatalf("wecom: %v", got)
				}
			}
		})
	}
}

func TestWebhookFailures(t *testing.T) {
	robotErr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errcode":310000,"errmsg":"keywords not in content"}`)
	}))
	defer robotErr.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusBadGateway)
	}))
	defer down.Close()
	for name, w := range map[string]*Webhook{
		"robot errcode": {URL: robotErr.URL, Format: FormatDingTalk},
		"5xx":           {URL: down.URL, Format: FormatJSON},
	} {
		if err := w.Deliver(context.Background(), sample()); !errors.Is(err, ErrDelivery) {
			t.Errorf("%s: err = %v, want ErrDelivery", name, err)
		}
	}
	if _, err := Render("telegraph", sample()); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown format: %v", err)
	}
}

func TestEscalationAndValidate(t *testing.T) {
	a := sample()
	if a.EscalationDue(t0.Add(59*time.Minute), time.Hour) || !a.EscalationDue(t0.Add(time.Hour), time.Hour) {
		t.Fatal("first escalation after one period")
	}
	a.Escalation = 1
	if a.EscalationDue(t0.Add(90*time.Minute), time.Hour) || !a.EscalationDue(t0.Add(2*time.Hour), time.Hour) {
		t.Fatal("second escalation after two periods")
	}
	a.State = store.AlertAcknowledged
	if a.EscalationDue(t0.Add(48*time.Hour), time.Hour) {
		t.Fatal("acknowledged alerts do not escalate")
	}
	bad := sample()
	bad.Unit = ""
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no unit: %v", err)
	}
}

// TestMQTTDelivery publishes through the real Mosquitto and reads it back.
func TestMQTTDelivery(t *testing.T) {
	addr := os.Getenv("BERTH_MQTT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:1883"
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		if os.Getenv("BERTH_REQUIRE_MQTT") != "" {
			t.Fatalf("broker %s demanded but unreachable: %v", addr, err)
		}
		t.Skipf("no broker at %s", addr)
	} else {
		c.Close()
	}
	id := fmt.Sprintf("alert-test-%d", time.Now().UnixNano())
	client := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id))
	if tok := client.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer client.Disconnect(100)
	a := sample()
	a.Unit = id // a topic of our own, so parallel tests do not collide
	got := make(chan []byte, 1)
	topic := wire.AlertTopic(a.Unit, a.Kind)
	if tok := client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := (&MQTT{Pub: Paho{Client: client}}).Deliver(ctx, a); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		var back Alert
		if err := json.Unmarshal(b, &back); err != nil || back.Key != a.Key || back.Unit != id {
			t.Fatalf("received %s (%v)", b, err)
		}
	case <-ctx.Done():
		t.Fatal("alert not received on " + topic)
	}
}

// A reason check that heard no speech at all says so (speech_seconds: 0);
// an alert with no reason check carries no speech figures.
func TestEvidenceSpeechSecondsZero(t *testing.T) {
	no := false
	for _, tc := range []struct {
		ev   Evidence
		want string
		has  bool
	}{
		{Evidence{StopCause: "fault", ReasonSpoken: &no}, `"speech_seconds":0`, true},
		{Evidence{StopCause: "fault", ReasonSpoken: &no, SpeechSeconds: 1.25}, `"speech_seconds":1.25`, true},
		{Evidence{StopCause: "fault"}, `"speech_seconds"`, false},
	} {
		b, err := json.Marshal(Alert{Key: "k", Evidence: tc.ev})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), tc.want); got != tc.has || strings.Count(string(b), "speech_seconds") > 1 {
			t.Errorf("%+v: %s", tc.ev, b)
		}
		var back Alert
		if err := json.Unmarshal(b, &back); err != nil || back.Evidence.SpeechSeconds != tc.ev.SpeechSeconds ||
			(back.Evidence.ReasonSpoken == nil) != (tc.ev.ReasonSpoken == nil) || back.Evidence.StopCause != "fault" {
			t.Errorf("round trip %+v (%v)", back.Evidence, err)
		}
	}
}

// Paho adapts a paho client to Publisher for the test (the collector
// publishes through its ingest).
type Paho struct{ Client paho.Client }

func (p Paho) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	tok := p.Client.Publish(topic, qos, retained, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

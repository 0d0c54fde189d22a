package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// mochi logs whole packets when it refuses one; the broker's log handler
// never lets a payload through.
func TestLogsCarryNoPayload(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(payloadFree{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	payload := bytes.Repeat([]byte("SECRET-FOOTAGE-METADATA "), 40_000) // ~960 KB
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "berth/v1/docks/d/devices/x", Payload: payload}
	log.Warn("error processing packet", "error", errors.New("x"), "client", "c1", "pk", pk)
	log.Debug("failed publishing packet", "packet", &pk, "raw", payload)
	log.Info("long text", "note", strings.Repeat("x", 100_000))
	log.With("pk", pk).Info("with")
	out := buf.String()
	if strings.Contains(out, "SECRET") {
		t.Fatalf("payload logged: %.300s", out)
	}
	if len(out) > 2000 {
		t.Fatalf("%d bytes of log for four lines", len(out))
	}
	if !strings.Contains(out, "payload 960000 bytes") {
		t.Errorf("summary missing: %s", out)
	}
}

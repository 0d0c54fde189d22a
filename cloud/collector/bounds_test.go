package collector

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

// Token and key files that group or others may read are refused at start
// with ErrSecretMode; 0600 ones are accepted.
func TestSecretFilesRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("0123456789abcdef0123456789\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loose, tight := write("loose.token", 0o644), write("tight.token", 0o600)
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		bad  bool
	}{
		{"token 0644", func(c *Config) { c.Docks = []DockEnrolment{{ID: "dock-1", Unit: "u", TokenFile: loose}} }, true},
		{"tls key 0644", func(c *Config) { c.TLSCert, c.TLSKey = tight, loose }, true},
		{"token 0600", func(c *Config) { c.Docks = []DockEnrolment{{ID: "dock-1", Unit: "u", TokenFile: tight}} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0"}
			cfg.MQTT.Embedded = "127.0.0.1:0"
			tc.cfg(&cfg)
			c, err := New(context.Background(), cfg, Options{Log: slog.New(slog.DiscardHandler)})
			if c != nil {
				c.Close()
			}
			if got := errors.Is(err, ErrSecretMode); got != tc.bad {
				t.Fatalf("New: %v; want ErrSecretMode %v", err, tc.bad)
			}
		})
	}
}

// The collector's HTTP server cuts slow and idle clients off.
func TestHTTPServerBounded(t *testing.T) {
	s := newHTTPServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("unbounded server: header %s read %s idle %s max header %d", s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
}

// The shipped configuration parses, enrolment included.
func TestDeployConfigLoads(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "..", "deploy", "cloud", "collector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Units) == 0 || len(c.Recorders) == 0 || c.Enrolment.Recorders != "enrolled-only" {
		t.Fatalf("enrolment not read: %+v %+v %+v", c.Units, c.Recorders, c.Enrolment)
	}
	if c.ClientCA == "" || c.MQTT.CertFile == "" || c.MQTT.KeyFile == "" || c.MQTT.CAFile == "" {
		t.Fatalf("mutual TLS settings not read: client_ca %q mqtt %q %q %q", c.ClientCA, c.MQTT.CAFile, c.MQTT.CertFile, c.MQTT.KeyFile)
	}
}

// A microphone calibration beyond what any recorder has, for the fleet
// or for a model (or for a model with no name), is refused at start,
// naming the key; one within bounds starts.
func TestReasonMicGainBounded(t *testing.T) {
	for _, tc := range []struct {
		gain    float64
		byModel map[string]float64
		key     string // in the error; "" when it starts
	}{
		{-12.5, nil, ""},
		{45, nil, "reason_mic_gain_db 45"},
		{math.NaN(), nil, "reason_mic_gain_db NaN"},
		{-3, map[string]float64{"BWC-7": -8.5, "BWC-9": 4}, ""},
		{-3, map[string]float64{"BWC-7": -31}, `reason_mic_gain_db_by_model["BWC-7"] -31`},
		{0, map[string]float64{"BWC-7": math.NaN()}, `reason_mic_gain_db_by_model["BWC-7"] NaN`},
		{0, map[string]float64{"": 2}, "reason_mic_gain_db_by_model: a calibration for an empty model name"},
	} {
		cfg := Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0"}
		cfg.MQTT.Embedded = "127.0.0.1:0"
		cfg.Analysis.ReasonMicGainDB, cfg.Analysis.ReasonMicGainDBByModel = tc.gain, tc.byModel
		c, err := New(context.Background(), cfg, Options{Log: slog.New(slog.DiscardHandler)})
		if c != nil {
			c.Close()
		}
		if (tc.key == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.key)) {
			t.Errorf("gain %v, by model %v: %v; want an error naming %q", tc.gain, tc.byModel, err, tc.key)
		}
	}
}

// A negative enrolment.proof_max_age is refused at start, naming the key;
// 0 (no limit) and a positive one start.
func TestProofMaxAgeBounded(t *testing.T) {
	for _, tc := range []struct {
		age time.Duration
		bad bool
	}{{0, false}, {720 * time.Hour, false}, {-time.Hour, true}} {
		cfg := Config{DataDir: t.TempDir(), HTTP: "127.0.0.1:0"}
		cfg.MQTT.Embedded = "127.0.0.1:0"
		cfg.Enrolment.Recorders, cfg.Enrolment.ProofMaxAge = "authenticated", tc.age
		c, err := New(context.Background(), cfg, Options{Log: slog.New(slog.DiscardHandler)})
		if c != nil {
			c.Close()
		}
		if tc.bad != (err != nil) || (err != nil && (!errors.Is(err, store.ErrArgument) || !strings.Contains(err.Error(), "enrolment.proof_max_age -1h0m0s"))) {
			t.Errorf("proof_max_age %s: %v; want refused %v, naming the key", tc.age, err, tc.bad)
		}
	}
}

package dock

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Config is dockd's configuration file (deploy/pi/dockd.yaml).
type Config struct {
	Dock  string `yaml:"dock"`  // this dock's id (the MQTT user name)
	Unit  string `yaml:"unit"`  // the unit it serves
	Board string `yaml:"board"` // board file (deploy/boards/*.yaml)

	DataDir        string `yaml:"data_dir"`        // buffer, outbox and audit log
	BufferKeyFile  string `yaml:"buffer_key_file"` // 32-byte AES key, mode 0600, owned by dockd
	BufferCapacity Size   `yaml:"buffer_capacity"` // e.g. 64GiB; 0: the file system's free space

	// EnrolledDevices is a JSON file {"serial": "base64 Ed25519 public key"}:
	// the recorders this dock serves.
	EnrolledDevices string `yaml:"enrolled_devices"`

	Collector struct {
		URL       string `yaml:"url"`        // evidence upload endpoint base, https://...
		PublicKey string `yaml:"public_key"` // base64 Ed25519 key that signs receipts
		// PreviousKeys are the collector's earlier receipt keys, trusted
		// while a key rotation settles (receipts issued before it).
		PreviousKeys []string `yaml:"previous_public_keys"`
		TokenFile    string   `yaml:"token_file"` // this dock's token
		Rate         Size     `yaml:"rate"`       // upload bandwidth limit per second; 0: none
		// Chunk is the bytes per upload request, at most the collector's
		// chunk limit; 0: the uploader's default (16 MiB, less under a
		// rate: uploader.ClientOpts.ChunkSize).
		Chunk Size `yaml:"chunk"`
	} `yaml:"collector"`

	// TLS is the dock's machine identity for mutual TLS (collector enroll
	// dock --ca): the CA that signed the collector's and broker's server
	// certificates, and this dock's client certificate and key (0600).
	// Used by the MQTT client (ssl:// brokers) and the upload client
	// (https://). Empty: system roots and no client certificate.
	TLS struct {
		CAFile   string `yaml:"ca_file"`
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
	} `yaml:"tls"`

	MQTT struct {
		Broker     string        `yaml:"broker"` // tcp://host:1883 or ssl://host:8883
		AckTimeout time.Duration `yaml:"ack_timeout"`
	} `yaml:"mqtt"`

	// Firmware campaigns to run on docked recorders (agent/firmware).
	Firmware firmware.Config `yaml:"firmware"`

	APISocket   string        `yaml:"api_socket"`   // dockctl's socket
	MetricsAddr string        `yaml:"metrics_addr"` // 127.0.0.1:9110; empty: off
	StateEvery  time.Duration `yaml:"state_every"`  // dock state report period

	// Batteries: recorder models' batteries by model name (the model the
	// recorder's HELLO gives), for the capacity the dock measures from the
	// charge current on slots with a current sensor.
	Batteries map[string]slot.BatteryModel `yaml:"batteries"`
	// Checkout maps officers' cards for the board's card reader (optional).
	Checkout Checkout `yaml:"checkout"`
	// MassStorage configures slots of legacy mass-storage recorders
	// (massstorage.go); used only by board slots with storage:.
	MassStorage MassStorage `yaml:"mass_storage"`
}

// Size is a byte count written as 512MiB, 64GiB, 10MB or a plain number.
type Size int64

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// ParseSize parses 10MB, 512MiB, 64GiB, 1.5GB or a plain number of bytes.
func ParseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	v = strings.TrimSpace(v)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	var f float64
	if _, err := fmt.Sscanf(v, "%g", &f); err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return int64(f * mult), nil
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dock: config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("dock: config %s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("dock: config %s: %w", path, err)
	}
	return &c, nil
}

// Check reports missing or invalid settings.
func (c *Config) Check() error {
	var errs []error
	if err := wire.ValidID(c.Dock); err != nil {
		errs = append(errs, fmt.Errorf("dock: %w", err))
	}
	if c.Unit != "" {
		if err := wire.ValidID(c.Unit); err != nil {
			errs = append(errs, fmt.Errorf("unit: %w", err))
		}
	}
	need := map[string]string{"board": c.Board, "data_dir": c.DataDir, "buffer_key_file": c.BufferKeyFile,
		"enrolled_devices": c.EnrolledDevices, "collector.url": c.Collector.URL, "collector.public_key": c.Collector.PublicKey,
		"mqtt.broker": c.MQTT.Broker}
	for k, v := range need {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", k))
		}
	}
	if c.Collector.PublicKey != "" {
		if _, err := ParsePublicKey(c.Collector.PublicKey); err != nil {
			errs = append(errs, fmt.Errorf("collector.public_key: %w", err))
		}
	}
	if _, err := c.previousKeys(); err != nil {
		errs = append(errs, err)
	}
	for model, b := range c.Batteries {
		if b.DesignMilliAmpHours < 0 || b.DesignMilliAmpHours > 1_000_000 || b.Efficiency < 0 || b.Efficiency > 1 {
			errs = append(errs, fmt.Errorf("batteries.%s: design_mah must be 0..1000000 and efficiency 0..1, got %d and %g",
				model, b.DesignMilliAmpHours, b.Efficiency))
		}
	}
	if err := c.Firmware.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Checkout.check(); err != nil {
		errs = append(errs, err)
	}
	if err := c.MassStorage.check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ParsePublicKey decodes a base64 Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("not a base64 Ed25519 public key (%d bytes)", len(b))
	}
	return ed25519.PublicKey(b), nil
}

// LoadEnrolled reads the enrolled recorders file: {"serial": "base64 key"}.
func LoadEnrolled(path string) (docklink.Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dock: enrolled devices: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("dock: enrolled devices %s: %w", path, err)
	}
	keys := docklink.Keys{}
	for serial, k := range m {
		pub, err := ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("dock: enrolled devices %s: %s: %w", path, serial, err)
		}
		keys[serial] = pub
	}
	return keys, nil
}

// previousKeys parses collector.previous_public_keys.
func (c *Config) previousKeys() ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for i, k := range c.Collector.PreviousKeys {
		pub, err := ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("collector.previous_public_keys[%d]: %w", i, err)
		}
		out = append(out, pub)
	}
	return out, nil
}

package dock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/agent/audit"
	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/drivers/board"
)

// OpenOpts are what a program hands Open besides the configuration file.
type OpenOpts struct {
	Version string
	Log     *slog.Logger
	Logs    *LogRing // dockctl logs; nil: none
	// Board, if set, is used instead of opening cfg.Board (the demo's
	// simulated board, whose links it points at its recorders). Open takes
	// ownership: System.Close halts it.
	Board *board.Board
	// Token, if set, is used instead of reading cfg.Collector.TokenFile.
	Token string
	// Buffer overrides buffer options (tests, benchmarks); KeyFile and
	// Capacity still come from cfg.
	Buffer *buffer.Opts
	Slot   slot.Config
	Clock  clockwork.Clock // nil: the real clock
}

// System is a dock with everything it owns, opened from a configuration.
type System struct {
	Dock   *Dock
	Board  *board.Board
	Buffer *buffer.Buffer
	Outbox *outbox.Box
	Audit  *audit.Log
}

// Open builds a dock from its configuration: the board, the encrypted
// buffer with the outbox beside it in the same badger database, the audit
// log, the enrolled recorders and the upload client. Close the System after
// its Dock's Run has returned.
func Open(cfg *Config, o OpenOpts) (_ *System, err error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	s := &System{Board: o.Board}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Board == nil {
		spec, err := board.Load(cfg.Board)
		if err != nil {
			return nil, err
		}
		if s.Board, err = board.Open(spec, &board.Opts{Logger: o.Log.With("part", "board")}); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("dock: data dir: %w", err)
	}
	bo := buffer.DefaultOpts()
	if o.Buffer != nil {
		bo = *o.Buffer
	}
	bo.KeyFile, bo.Capacity, bo.Logger = cfg.BufferKeyFile, int64(cfg.BufferCapacity), o.Log.With("part", "buffer")
	collectorKey, err := ParsePublicKey(cfg.Collector.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("dock: collector.public_key: %w", err)
	}
	// A segment receipted by the collector but never released on its
	// recorder (taken out early, or releases withheld for a sequence hole)
	// is held in the agency's store and on the recorder: the buffer may let
	// it go after two days, and only if the receipt verifies with this key.
	previous, err := cfg.previousKeys()
	if err != nil {
		return nil, fmt.Errorf("dock: %w", err)
	}
	if bo.ReceiptKey == nil {
		bo.ReceiptKey, bo.PreviousReceiptKeys = collectorKey, previous
		if bo.RetainUnreleased == 0 {
			bo.RetainUnreleased = 48 * time.Hour
		}
	}
	if s.Buffer, err = buffer.Open(filepath.Join(cfg.DataDir, "buffer"), &bo); err != nil {
		return nil, err
	}
	if s.Outbox, err = outbox.New(s.Buffer.DB(), outbox.DefaultPrefix); err != nil {
		return nil, err
	}
	if s.Audit, err = audit.Open(filepath.Join(cfg.DataDir, "audit.log"), cfg.Dock, o.Clock.Now); err != nil {
		return nil, err
	}
	keys, err := LoadEnrolled(cfg.EnrolledDevices)
	if err != nil {
		return nil, err
	}
	token := o.Token
	if token == "" && cfg.Collector.TokenFile != "" {
		b, err := os.ReadFile(cfg.Collector.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("dock: collector token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, errors.New("dock: no collector token (collector.token_file)")
	}
	var tlsCfg *tls.Config
	var httpClient *http.Client
	if cfg.TLS.CAFile != "" || cfg.TLS.CertFile != "" {
		if tlsCfg, err = pki.ClientTLS(cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			return nil, fmt.Errorf("dock: tls: %w", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsCfg.Clone()
		httpClient = &http.Client{Transport: tr}
	}
	client, err := uploader.NewClient(uploader.ClientOpts{BaseURL: cfg.Collector.URL, Dock: cfg.Dock, Token: token,
		CollectorKey: collectorKey, PreviousKeys: previous, RateBytes: int64(cfg.Collector.Rate), ChunkSize: int(cfg.Collector.Chunk),
		HTTPClient: httpClient})
	if err != nil {
		return nil, err
	}
	if o.Slot.Batteries == nil {
		o.Slot.Batteries = cfg.Batteries
	}
	campaigns, err := cfg.Firmware.Load()
	if err != nil {
		return nil, err
	}
	var fw *firmware.Updater
	var fetch *firmware.Fetcher
	if len(campaigns) > 0 || cfg.Firmware.Fetch {
		fw = &firmware.Updater{Now: o.Clock.Now}
		fw.SetCampaigns(campaigns)
		o.Log.Info("firmware campaigns loaded", "count", len(campaigns), "fetch", cfg.Firmware.Fetch)
	}
	if cfg.Firmware.Fetch {
		vendor, err := firmware.ParseVendorKey(cfg.Firmware.VendorKey)
		if err != nil {
			return nil, err
		}
		fetch = &firmware.Fetcher{BaseURL: cfg.Collector.URL, Dock: cfg.Dock, Token: token, HTTP: httpClient,
			Dir: filepath.Join(cfg.DataDir, "firmware"), Vendor: vendor, Updater: fw, Static: campaigns,
			Every: cfg.Firmware.FetchEvery, Log: o.Log.With("part", "firmware")}
	}
	s.Dock, err = New(Settings{Firmware: fw, FirmwareFetch: fetch, Dock: cfg.Dock, Unit: cfg.Unit, Version: o.Version, Broker: cfg.MQTT.Broker, Username: cfg.Dock, Password: token, TLS: tlsCfg,
		AckTimeout: cfg.MQTT.AckTimeout, StateEvery: cfg.StateEvery, Slot: o.Slot, Clock: o.Clock,
		Checkout: cfg.Checkout, MassStorage: cfg.MassStorage},
		Parts{Board: s.Board, Buffer: s.Buffer, Outbox: s.Outbox, Audit: s.Audit, Upload: client, Keys: keys,
			Log: o.Log, Logs: o.Logs})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close halts the board (power and LEDs off) and closes the audit log and
// the buffer (with the outbox in it). Call it after Dock.Run returned.
func (s *System) Close() error {
	var errs []error
	if s.Board != nil {
		errs = append(errs, s.Board.Halt())
	}
	if s.Audit != nil {
		errs = append(errs, s.Audit.Close())
	}
	if s.Buffer != nil {
		errs = append(errs, s.Buffer.Close())
	}
	return errors.Join(errs...)
}

// Run runs the dock until ctx ends.
func (s *System) Run(ctx context.Context) error { return s.Dock.Run(ctx) }

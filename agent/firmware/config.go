package firmware

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Config is dockd's firmware section: the vendor key images must verify
// with, and the campaigns the dock runs (DockLink §17). A campaign applies
// to every recorder of its image's model, or only to the listed serials;
// recorders are offered the image only after their footage is safe in the
// buffer. `collector firmware campaign dock-config` prints it for a
// campaign's current stage.
//
//	firmware:
//	  vendor_key: "base64 Ed25519 public key"
//	  campaigns:
//	    - id: r1-2.5.0-pilot
//	      image: /var/lib/berth/firmware/r1-2.5.0.bin
//	      manifest: /var/lib/berth/firmware/r1-2.5.0.json
//	      serials: [BWC-0001, BWC-0002]
type Config struct {
	VendorKey string           `yaml:"vendor_key"`
	Campaigns []CampaignConfig `yaml:"campaigns"`
	// Fetch also runs the collector's campaigns (`collector firmware
	// campaign`): their list and images come from the upload endpoint,
	// with the dock's credentials, into data_dir/firmware.
	Fetch bool `yaml:"fetch,omitempty"`
	// FetchEvery is how often the list is fetched again (default 10m).
	FetchEvery time.Duration `yaml:"fetch_every,omitempty"`
}

// CampaignConfig is one campaign of Config.
type CampaignConfig struct {
	ID       string   `yaml:"id"`
	Image    string   `yaml:"image"`
	Manifest string   `yaml:"manifest"`
	Serials  []string `yaml:"serials,omitempty"`
}

// ErrConfig wraps an invalid firmware section.
var ErrConfig = errors.New("firmware: bad configuration")

// ParseVendorKey decodes a base64 Ed25519 public key.
func ParseVendorKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: vendor key is not a base64 Ed25519 public key (%d bytes)", ErrConfig, len(b))
	}
	return ed25519.PublicKey(b), nil
}

// Check validates the section without reading the images.
func (c *Config) Check() error {
	if len(c.Campaigns) == 0 && !c.Fetch {
		return nil
	}
	var errs []error
	if _, err := ParseVendorKey(c.VendorKey); err != nil {
		errs = append(errs, fmt.Errorf("firmware.vendor_key: %w", err))
	}
	seen := map[string]bool{}
	for i, cp := range c.Campaigns {
		if err := wire.ValidID(cp.ID); err != nil || seen[cp.ID] {
			errs = append(errs, fmt.Errorf("%w: firmware.campaigns[%d].id %q: a unique id is required (%v)", ErrConfig, i, cp.ID, err))
		}
		seen[cp.ID] = true
		if cp.Image == "" || cp.Manifest == "" {
			errs = append(errs, fmt.Errorf("%w: firmware.campaigns[%d]: image and manifest are required", ErrConfig, i))
		}
		for _, s := range cp.Serials {
			if err := wire.ValidID(s); err != nil {
				errs = append(errs, fmt.Errorf("%w: firmware.campaigns[%d].serials: %w", ErrConfig, i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Load verifies every campaign's image against the vendor key and returns
// the campaigns; nil when there are none.
func (c *Config) Load() ([]*Campaign, error) {
	if err := c.Check(); err != nil || len(c.Campaigns) == 0 {
		return nil, err
	}
	vendor, err := ParseVendorKey(c.VendorKey)
	if err != nil {
		return nil, err
	}
	out := make([]*Campaign, 0, len(c.Campaigns))
	for _, cp := range c.Campaigns {
		img, err := LoadImage(cp.Image, cp.Manifest, vendor)
		if err != nil {
			return nil, fmt.Errorf("firmware campaign %s: %w", cp.ID, err)
		}
		out = append(out, &Campaign{ID: cp.ID, Image: img, Serials: cp.Serials})
	}
	return out, nil
}

package dock

import (
	"errors"
	"fmt"

	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/cloud/wire"
)

// FirmwareConfig is dockd's firmware section: the vendor key images must
// verify with, and the campaigns this dock runs (DockLink §17). A campaign
// applies to every recorder of its image's model, or only to the listed
// serials; recorders are offered the image only after their footage is
// safe in the buffer.
//
//	firmware:
//	  vendor_key: "base64 Ed25519 public key"
//	  campaigns:
//	    - id: r1-2.5.0-pilot
//	      image: /var/lib/berth/firmware/r1-2.5.0.bin
//	      manifest: /var/lib/berth/firmware/r1-2.5.0.json
//	      serials: [BWC-0001, BWC-0002]
type FirmwareConfig struct {
	VendorKey string             `yaml:"vendor_key"`
	Campaigns []FirmwareCampaign `yaml:"campaigns"`
}

// FirmwareCampaign is one campaign of FirmwareConfig.
type FirmwareCampaign struct {
	ID       string   `yaml:"id"`
	Image    string   `yaml:"image"`
	Manifest string   `yaml:"manifest"`
	Serials  []string `yaml:"serials"`
}

// check validates the section without reading the images.
func (c *FirmwareConfig) check() error {
	if len(c.Campaigns) == 0 {
		return nil
	}
	var errs []error
	if _, err := ParsePublicKey(c.VendorKey); err != nil {
		errs = append(errs, fmt.Errorf("firmware.vendor_key: %w", err))
	}
	seen := map[string]bool{}
	for i, cp := range c.Campaigns {
		if err := wire.ValidID(cp.ID); err != nil || seen[cp.ID] {
			errs = append(errs, fmt.Errorf("firmware.campaigns[%d].id %q: a unique id is required (%v)", i, cp.ID, err))
		}
		seen[cp.ID] = true
		if cp.Image == "" || cp.Manifest == "" {
			errs = append(errs, fmt.Errorf("firmware.campaigns[%d]: image and manifest are required", i))
		}
		for _, s := range cp.Serials {
			if err := wire.ValidID(s); err != nil {
				errs = append(errs, fmt.Errorf("firmware.campaigns[%d].serials: %w", i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Load verifies every campaign's image against the vendor key and returns
// the campaigns; nil when there are none.
func (c *FirmwareConfig) Load() ([]*firmware.Campaign, error) {
	if err := c.check(); err != nil || len(c.Campaigns) == 0 {
		return nil, err
	}
	vendor, err := ParsePublicKey(c.VendorKey)
	if err != nil {
		return nil, err
	}
	out := make([]*firmware.Campaign, 0, len(c.Campaigns))
	for _, cp := range c.Campaigns {
		img, err := firmware.LoadImage(cp.Image, cp.Manifest, vendor)
		if err != nil {
			return nil, fmt.Errorf("dock: firmware campaign %s: %w", cp.ID, err)
		}
		out = append(out, &firmware.Campaign{ID: cp.ID, Image: img, Serials: cp.Serials})
	}
	return out, nil
}

// Firmware implements the firmware updater's report: queued for the
// collector like every report.
func (d *Dock) Firmware(p wire.FirmwareProgress) {
	d.put(d.id("fw"), wire.TypeFirmware, wire.FirmwareTopic(d.set.Dock), false, &p)
}

package recsim

import (
	"fmt"
)

// FleetOpts says how NewFleet makes Count recorders: each loaded from Dir,
// or generated from Seed+i. Config is the template for every recorder
// (its Serial and Key are replaced per recorder: keys are derived from
// the serials, so a dock enrols them with PublicKey or DeriveKey).
type FleetOpts struct {
	Count int // default 1

	// Dir loads every recorder from the same footage directory. With
	// Count 1 the serial is the manifest's; with more, serial-01, -02, ...
	Dir string

	// Seed and Gen generate recorder i from Seed+i when Dir is empty;
	// serials are SerialPrefix + i+1 in four digits (default "BWC-SIM-").
	Seed         uint64
	Gen          *GenOpts
	SerialPrefix string

	Config Config
	// Faults adds faults to single recorders, by index from 0 (on top of
	// Config.Faults, which every recorder gets).
	Faults map[int][]Fault
}

// NewFleet makes the recorders a Server serves (recsim's --count).
func NewFleet(o FleetOpts) ([]*Recorder, error) {
	if o.Count == 0 {
		o.Count = 1
	}
	if o.Count < 0 || o.Count > 4096 {
		return nil, fmt.Errorf("%w: count %d (1..4096)", ErrConfig, o.Count)
	}
	if o.SerialPrefix == "" {
		o.SerialPrefix = "BWC-SIM-"
	}
	var base string
	if o.Dir != "" {
		m, _, err := readManifestDir(o.Dir)
		if err != nil {
			return nil, err
		}
		base = m.Serial
		if o.Config.Serial != "" {
			base = o.Config.Serial
		}
	}
	recs := make([]*Recorder, 0, o.Count)
	for i := range o.Count {
		cfg := o.Config
		cfg.Key = nil
		cfg.Faults = append(append([]Fault(nil), o.Config.Faults...), o.Faults[i]...)
		var (
			r   *Recorder
			err error
		)
		if o.Dir != "" {
			cfg.Serial = base
			if o.Count > 1 {
				cfg.Serial = fmt.Sprintf("%s-%02d", base, i+1)
			}
			r, err = Load(o.Dir, &cfg)
		} else {
			cfg.Serial = fmt.Sprintf("%s%04d", o.SerialPrefix, i+1)
			r, err = Generate(o.Seed+uint64(i), o.Gen, &cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("recsim: recorder %d: %w", i+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

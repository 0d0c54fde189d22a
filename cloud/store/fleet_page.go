package store

import (
	"context"
	"fmt"
)

// The console's fleet at the design's scale (100k recorders, 10k docks):
// a scope too large to judge whole on each request is shown one unit at a
// time (FleetUnits) or one page at a time in serial or id order
// (DevicesPage, DocksPage, SlotsOfDocks).

// CountDevicesUpTo counts the recorders that reported a unit among units
// (nil: every unit), stopping at most: enough to tell whether a scope is
// small enough to judge whole.
func (s *Store) CountDevicesUpTo(ctx context.Context, units []string, most int) (int, error) {
	if units != nil && len(units) == 0 {
		return 0, nil
	}
	where, args := unitsIn("unit", units)
	var n int
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT count(*) FROM (SELECT 1 FROM devices`+where+` LIMIT ?) x`), append(args, most)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count devices: %w", err)
	}
	return n, nil
}

// DevicesPage lists up to limit recorders of units (nil: all; empty: none)
// with serials after after, by serial: Devices one page at a time.
func (s *Store) DevicesPage(ctx context.Context, units []string, after string, limit int) ([]Device, error) {
	if units != nil && len(units) == 0 {
		return nil, nil
	}
	q, args := devicesWhere(units)
	if units == nil {
		q += ` WHERE d.serial > ?`
	} else {
		q += ` AND d.serial > ?`
	}
	return s.devicesQ(ctx, q+` ORDER BY d.serial LIMIT ?`, append(args, after, limit))
}

// DocksPage lists up to limit docks of units (nil: all; empty: none) with
// ids after after, by id.
func (s *Store) DocksPage(ctx context.Context, units []string, after string, limit int) ([]Dock, error) {
	if units != nil && len(units) == 0 {
		return nil, nil
	}
	where, args := unitsIn("unit", units)
	if where == "" {
		where = ` WHERE id > ?`
	} else {
		where += ` AND id > ?`
	}
	return s.docks(ctx, where+` ORDER BY id LIMIT ?`, append(args, after, limit)...)
}

// SlotsOfDocks lists the slots of docks by dock and number.
func (s *Store) SlotsOfDocks(ctx context.Context, docks []string) ([]Slot, error) {
	if len(docks) == 0 {
		return nil, nil
	}
	where, args := unitsIn("dock", docks)
	return s.slots(ctx, where, args...)
}

// UnitFleet is one unit's equipment as the fleet overview counts it.
type UnitFleet struct {
	Unit  string `json:"unit"`
	Docks int    `json:"docks"`
}

// FleetUnits lists the units of units (nil: all) that have docks, with
// how many, by unit.
func (s *Store) FleetUnits(ctx context.Context, units []string) ([]UnitFleet, error) {
	if units != nil && len(units) == 0 {
		return nil, nil
	}
	where, args := unitsIn("unit", units)
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT unit, count(*) FROM docks`+where+` GROUP BY unit ORDER BY unit`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: fleet units: %w", err)
	}
	defer rs.Close()
	var out []UnitFleet
	for rs.Next() {
		var u UnitFleet
		if err := rs.Scan(&u.Unit, &u.Docks); err != nil {
			return nil, fmt.Errorf("store: fleet units: %w", err)
		}
		out = append(out, u)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: fleet units: %w", err)
	}
	return out, nil
}

// RecordersPage lists up to limit enrolled recorders with serials after
// after, by serial: Recorders(ctx, "") one page at a time.
func (s *Store) RecordersPage(ctx context.Context, after string, limit int) ([]Recorder, error) {
	return s.recorders(ctx, `WHERE serial > ? ORDER BY serial LIMIT ?`, after, limit)
}

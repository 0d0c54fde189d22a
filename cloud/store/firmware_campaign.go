package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Firmware campaign stages.
const (
	StagePilot = "pilot" // only the pilot recorders
	StageAll   = "all"   // every recorder of the model
)

// FirmwareCampaign is a firmware campaign: a vendor-signed image and the
// recorders that get it, stage by stage.
type FirmwareCampaign struct {
	ID        string
	Model     string
	Version   string
	Size      int64
	SHA256    string // hex
	Signature string // base64, the vendor's (DockLink §17.2)
	Image     string // where the image is kept (a path or URL the docks are given)
	Stage     string
	Pilot     []string // the pilot serials
	CreatedBy string
	Created   time.Time
	Advanced  time.Time // zero while in the pilot stage
}

// Targets lists the serials the campaign applies to now; nil means every
// recorder of the model.
func (c *FirmwareCampaign) Targets() []string {
	if c.Stage == StageAll {
		return nil
	}
	return c.Pilot
}

// CreateFirmwareCampaign stores a campaign in its pilot stage. The caller
// has verified the image and its signature. An id in use is ErrConflict.
func (s *Store) CreateFirmwareCampaign(ctx context.Context, c FirmwareCampaign) error {
	if err := wire.ValidID(c.ID); err != nil {
		return fmt.Errorf("%w: campaign id: %w", ErrArgument, err)
	}
	if c.Model == "" || c.Version == "" || c.Size < 1 || !wire.ValidSHA256(c.SHA256) || c.Signature == "" || c.Image == "" || len(c.Pilot) == 0 {
		return fmt.Errorf("%w: a campaign needs model, version, size, sha256, signature, image and at least one pilot recorder", ErrArgument)
	}
	if err := checkBy(c.CreatedBy); err != nil {
		return err
	}
	for _, p := range c.Pilot {
		if err := wire.ValidID(p); err != nil {
			return fmt.Errorf("%w: pilot serial: %w", ErrArgument, err)
		}
	}
	if err := cleanText(c.Model, c.Version, c.Signature, c.Image); err != nil {
		return err
	}
	pilot := slices.Compact(slices.Sorted(slices.Values(c.Pilot)))
	now := s.clock.Now().UnixNano()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT count(*) FROM firmware_campaigns WHERE id = ?`), c.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: campaign %s exists", ErrConflict, c.ID)
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO firmware_campaigns (id, model, version, size, sha256, signature, image,
			stage, created_by, created_ns, advanced_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`),
			c.ID, c.Model, c.Version, c.Size, c.SHA256, c.Signature, c.Image, StagePilot, c.CreatedBy, now); err != nil {
			return err
		}
		for _, p := range pilot {
			if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO firmware_pilot (campaign, serial) VALUES (?, ?)`), c.ID, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// AdvanceFirmwareCampaign moves a campaign from its pilot to every
// recorder of the model. ErrNotFound, or ErrState if already advanced.
func (s *Store) AdvanceFirmwareCampaign(ctx context.Context, id string) error {
	now := s.clock.Now().UnixNano()
	return s.tx(ctx, func(tx *sql.Tx) error {
		var stage string
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT stage FROM firmware_campaigns WHERE id = ?`), id).Scan(&stage)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: campaign %s", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if stage != StagePilot {
			return fmt.Errorf("%w: campaign %s is already at stage %s", ErrState, id, stage)
		}
		_, err = tx.ExecContext(ctx, s.d.q(`UPDATE firmware_campaigns SET stage = ?, advanced_ns = ? WHERE id = ?`), StageAll, now, id)
		return err
	})
}

// FirmwareCampaigns lists the campaigns by id.
func (s *Store) FirmwareCampaigns(ctx context.Context) ([]FirmwareCampaign, error) {
	return s.firmwareCampaigns(ctx, "")
}

// FirmwareCampaignByID returns one campaign, or ErrNotFound.
func (s *Store) FirmwareCampaignByID(ctx context.Context, id string) (FirmwareCampaign, error) {
	cs, err := s.firmwareCampaigns(ctx, id)
	if err != nil {
		return FirmwareCampaign{}, err
	}
	if len(cs) == 0 {
		return FirmwareCampaign{}, fmt.Errorf("%w: campaign %s", ErrNotFound, id)
	}
	return cs[0], nil
}

func (s *Store) firmwareCampaigns(ctx context.Context, id string) ([]FirmwareCampaign, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT id, model, version, size, sha256, signature, image, stage, created_by,
		created_ns, advanced_ns FROM firmware_campaigns WHERE ? = '' OR id = ? ORDER BY id`), id, id)
	if err != nil {
		return nil, fmt.Errorf("store: firmware campaigns: %w", err)
	}
	var out []FirmwareCampaign
	for rows.Next() {
		var c FirmwareCampaign
		var created, advanced int64
		if err := rows.Scan(&c.ID, &c.Model, &c.Version, &c.Size, &c.SHA256, &c.Signature, &c.Image, &c.Stage, &c.CreatedBy,
			&created, &advanced); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: firmware campaigns: %w", err)
		}
		c.Created = time.Unix(0, created).UTC()
		if advanced != 0 {
			c.Advanced = time.Unix(0, advanced).UTC()
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: firmware campaigns: %w", err)
	}
	for i := range out {
		prs, err := s.db.QueryContext(ctx, s.d.q(`SELECT serial FROM firmware_pilot WHERE campaign = ? ORDER BY serial`), out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("store: firmware pilot: %w", err)
		}
		for prs.Next() {
			var p string
			if err := prs.Scan(&p); err != nil {
				prs.Close()
				return nil, fmt.Errorf("store: firmware pilot: %w", err)
			}
			out[i].Pilot = append(out[i].Pilot, p)
		}
		prs.Close()
		if err := prs.Err(); err != nil {
			return nil, fmt.Errorf("store: firmware pilot: %w", err)
		}
	}
	return out, nil
}

// SerialsElsewhere returns those of serials that are enrolled to a unit
// other than dock's (all enrolled ones, for a dock not enrolled): the
// recorders a dock is not told of, as a campaign's pilot list would.
func (s *Store) SerialsElsewhere(ctx context.Context, dock string, serials []string) (map[string]bool, error) {
	rows := make([][]any, 0, len(serials))
	for _, sn := range slices.Compact(slices.Sorted(slices.Values(serials))) {
		rows = append(rows, []any{sn})
	}
	out := map[string]bool{}
	err := s.withRows(ctx, "serial TEXT", rows, `SELECT w.serial FROM w JOIN recorders r ON r.serial = w.serial
		WHERE r.unit <> COALESCE((SELECT d.unit FROM docks d WHERE d.id = ?), '')`, []any{dock}, func(rs *sql.Rows) error {
		var sn string
		if err := rs.Scan(&sn); err != nil {
			return err
		}
		out[sn] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: serials elsewhere: %w", err)
	}
	return out, nil
}

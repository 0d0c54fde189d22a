package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// RecordReceipt records a receipt the collector issued after the evidence
// store holds the object, naming no dock (RecordReceiptFrom): its
// uploader is unknown, as for the receipts recorded before migration 0016.
func (s *Store) RecordReceipt(ctx context.Context, r wire.Receipt) error {
	return s.RecordReceiptFrom(ctx, r, "")
}

// RecordReceiptFrom records a receipt the collector issued, after the
// evidence store holds the object, for dock's upload. Recording the same
// (device, seq) again with the same object, hash and size is a no-op (the
// first receipt stays, with its dock); a different object, hash or size
// for a recorded (device, seq) is ErrConflict and changes nothing.
func (s *Store) RecordReceiptFrom(ctx context.Context, r wire.Receipt, dock string) error {
	if err := wire.ValidID(r.Device); err != nil {
		return fmt.Errorf("%w: receipt device: %w", ErrArgument, err)
	}
	var by any // NULL: no dock named
	if dock != "" {
		if err := wire.ValidID(dock); err != nil {
			return fmt.Errorf("%w: receipt dock: %w", ErrArgument, err)
		}
		by = dock
	}
	switch {
	case r.ObjectID == "" || len(r.ObjectID) > 256:
		return fmt.Errorf("%w: receipt object id length %d", ErrArgument, len(r.ObjectID))
	case len(r.SHA256) != 64 || r.Size < 0:
		return fmt.Errorf("%w: receipt sha256 %q size %d", ErrArgument, r.SHA256, r.Size)
	case r.Seq > math.MaxInt64 || r.StoredAt.IsZero() || !timeOK(r.StoredAt):
		return fmt.Errorf("%w: receipt seq %d stored_at %s", ErrArgument, r.Seq, r.StoredAt)
	case r.Signature == "":
		return fmt.Errorf("%w: receipt unsigned", ErrArgument)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO receipts (device, seq, object_id, sha256, size, stored_ns,
			key_id, signature, recorded_ns, dock) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING`),
			r.Device, int64(r.Seq), r.ObjectID, r.SHA256, r.Size, r.StoredAt.UnixNano(), r.KeyID, r.Signature,
			s.clock.Now().UnixNano(), by)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			now := s.clock.Now().UnixNano()
			if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE segments SET updated_ns = ? WHERE serial = ? AND seq = ?`),
				now, r.Device, int64(r.Seq)); err != nil {
				return err
			}
			// The recorder is judged again: the footage is in storage.
			return s.markWorkTx(ctx, tx, r.Device, now)
		}
		have, _, err := s.receipt(ctx, tx, r.Device, r.Seq)
		if err != nil {
			return err
		}
		if have.ObjectID != r.ObjectID || have.SHA256 != r.SHA256 || have.Size != r.Size {
			return fmt.Errorf("%w: %s/%d already receipted as object %s sha256 %s size %d, not %s %s %d", ErrConflict,
				r.Device, r.Seq, have.ObjectID, have.SHA256, have.Size, r.ObjectID, r.SHA256, r.Size)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record receipt: %w", err)
	}
	return nil
}

// Receipted reports whether a receipt names the object of SHA-256
// sha256hex (whatever its version).
func (s *Store) Receipted(ctx context.Context, sha256hex string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT 1 FROM receipts WHERE sha256 = ? LIMIT 1`), sha256hex).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: receipted: %w", err)
	}
	return true, nil
}

// Receipt returns the recorded receipt of device's segment seq.
func (s *Store) Receipt(ctx context.Context, device string, seq uint64) (wire.Receipt, bool, error) {
	r, ok, err := s.receipt(ctx, s.db, device, seq)
	if err != nil {
		return wire.Receipt{}, false, fmt.Errorf("store: receipt: %w", err)
	}
	return r, ok, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) receipt(ctx context.Context, q querier, device string, seq uint64) (wire.Receipt, bool, error) {
	if seq > math.MaxInt64 {
		return wire.Receipt{}, false, nil
	}
	r := wire.Receipt{Device: device, Seq: seq}
	var stored int64
	err := q.QueryRowContext(ctx, s.d.q(`SELECT object_id, sha256, size, stored_ns, key_id, signature FROM receipts
		WHERE device = ? AND seq = ?`), device, int64(seq)).Scan(&r.ObjectID, &r.SHA256, &r.Size, &stored, &r.KeyID, &r.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Receipt{}, false, nil
	}
	if err != nil {
		return wire.Receipt{}, false, err
	}
	r.StoredAt = time.Unix(0, stored).UTC()
	return r, true, nil
}

// HeldReceipt is a recorded receipt with whose footage it is.
type HeldReceipt struct {
	wire.Receipt
	// Dock is the dock whose upload the receipt was issued for; "" if
	// unknown (recorded before migration 0016, or not for an upload).
	Dock string
	// Unit is the footage's unit, judged as a segment's is (footageUnit,
	// which the console's footageFor reads too): its recorder's enrolled
	// unit, else the unit of Dock, else (Dock "") the unit of the dock
	// that reported the segment. UnitKnown is false when none is known: a
	// recorder enrolled nowhere, and a receipt naming a dock the registry
	// does not hold, or naming no dock for a segment not yet reported.
	Unit      string
	UnitKnown bool
}

// ReceiptsOf lists up to limit recorded receipts whose object has SHA-256
// sha256hex (any device and seq), by device and seq, each with its
// footage's unit: who else holds the footage a dock claims.
func (s *Store) ReceiptsOf(ctx context.Context, sha256hex string, limit int) ([]HeldReceipt, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT c.device, c.seq, c.object_id, c.sha256, c.size, c.stored_ns, c.key_id,
		c.signature, COALESCE(c.dock, ''), `+footageUnit+` FROM receipts c
		LEFT JOIN recorders r ON r.serial = c.device LEFT JOIN segments g ON g.serial = c.device AND g.seq = c.seq`+footageDocks+`
		WHERE c.sha256 = ? ORDER BY c.device, c.seq LIMIT ?`), sha256hex, limit)
	if err != nil {
		return nil, fmt.Errorf("store: receipts of %.64s: %w", sha256hex, err)
	}
	defer rs.Close()
	var out []HeldReceipt
	for rs.Next() {
		var h HeldReceipt
		var seq, stored int64
		var unit sql.NullString
		if err := rs.Scan(&h.Device, &seq, &h.ObjectID, &h.SHA256, &h.Size, &stored, &h.KeyID, &h.Signature, &h.Dock, &unit); err != nil {
			return nil, fmt.Errorf("store: receipts of %.64s: %w", sha256hex, err)
		}
		h.Seq, h.StoredAt = uint64(seq), time.Unix(0, stored).UTC()
		h.Unit, h.UnitKnown = unit.String, unit.Valid
		out = append(out, h)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: receipts of %.64s: %w", sha256hex, err)
	}
	return out, nil
}

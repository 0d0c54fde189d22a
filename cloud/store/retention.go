package store

import (
	"context"
	"fmt"
	"math"
)

// HeldObjects returns the ids of the objects under a legal hold now (their
// latest hold event sets it), in id order: the custody job keeps their
// retention from lapsing.
func (s *Store) HeldObjects(ctx context.Context) ([]string, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT h.object_id FROM evidence_holds h WHERE h.held = 1
		AND h.id = (SELECT MAX(x.id) FROM evidence_holds x WHERE x.object_id = h.object_id) ORDER BY h.object_id`)
	if err != nil {
		return nil, fmt.Errorf("store: held objects: %w", err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: held objects: %w", err)
		}
		out = append(out, id)
	}
	return out, rs.Err()
}

// LinkedFootage returns up to limit segments that are linked to a case and
// have an evidence object, with their links, in (serial, seq) order after
// (afterSerial, afterSeq): the custody job pages through them to re-apply
// their retention.
func (s *Store) LinkedFootage(ctx context.Context, afterSerial string, afterSeq uint64, limit int) ([]CaseHit, error) {
	if limit <= 0 {
		limit = 1000
	}
	if afterSeq > math.MaxInt64 {
		afterSeq = math.MaxInt64
	}
	return s.caseHits(ctx, "linked footage", hitCols+` FROM segments g LEFT JOIN recorders r ON r.serial = g.serial
		JOIN receipts c ON c.device = g.serial AND c.seq = g.seq`+footageDocks+`
		WHERE EXISTS (SELECT 1 FROM case_links l WHERE l.serial = g.serial AND l.seq = g.seq)
		AND (g.serial > ? OR (g.serial = ? AND g.seq > ?))
		ORDER BY g.serial, g.seq LIMIT ?`, afterSerial, afterSerial, int64(afterSeq), limit)
}

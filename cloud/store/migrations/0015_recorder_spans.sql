-- Bounded history reads (issue 11). The analysis reads a recorder's
-- segments (and inventory) overlapping a window [lo, hi): corrected start
-- before hi, corrected end at or after lo. Index segments_by_time (serial,
-- corr_start_ns) serves only the first half, so such a read walked the
-- recorder's whole history before hi. recorder_spans keeps, per recorder,
-- an upper bound of its longest segment (corr_end_ns - corr_start_ns) and
-- of its longest inventoried segment (end_ns - start_ns): raised, never
-- lowered, in the transaction that commits them (Store.Commit), so a read
-- also asks for a start at or after lo - bound, and the index range is
-- [lo - bound, hi). NULL: none of that kind recorded yet. A span is
-- clamped to [0, max BIGINT] (an end before its start counts 0).
CREATE TABLE recorder_spans (
	serial       TEXT PRIMARY KEY,
	segment_ns   BIGINT,
	inventory_ns BIGINT
);
-- The bounds of what is stored already: each recorder's longest span, with
-- no subtraction that could overflow.
INSERT INTO recorder_spans (serial, segment_ns, inventory_ns)
SELECT serial, MAX(seg), MAX(inv) FROM (
	SELECT serial, CASE WHEN corr_end_ns <= corr_start_ns THEN 0
		WHEN corr_start_ns >= 0 OR corr_end_ns < 0 THEN corr_end_ns - corr_start_ns
		WHEN corr_end_ns <= corr_start_ns + 9223372036854775807 THEN corr_end_ns - corr_start_ns
		ELSE 9223372036854775807 END AS seg, CAST(NULL AS BIGINT) AS inv FROM segments
	UNION ALL
	SELECT serial, CAST(NULL AS BIGINT), CASE WHEN end_ns <= start_ns THEN 0
		WHEN start_ns >= 0 OR end_ns < 0 THEN end_ns - start_ns
		WHEN end_ns <= start_ns + 9223372036854775807 THEN end_ns - start_ns
		ELSE 9223372036854775807 END FROM inventory
) AS x GROUP BY serial;
-- The rest of the analysis' per-recorder reads, bounded the same way:
-- DockingsOf takes a recorder's highest last_seq (and the recording flag
-- of the docking that said it) by one index probe instead of reading and
-- sorting all its dockings; LateArrivalsOf finds a recorder's rows
-- committed since the lookback by the commit time, not by walking its
-- history before the lookback.
CREATE INDEX dockings_by_seq ON dockings (serial, last_seq, docked_ns);
CREATE INDEX segments_by_serial_update ON segments (serial, updated_ns);
CREATE INDEX inventory_by_serial_receipt ON inventory (serial, received_ns);

-- Conflicting reads of a recorder's event log. A recorder never rewrites
-- an entry of its log (DockLink §10.3: an index is never reused), so two
-- reads of one entry (serial, idx) that differ in time, kind, seq or
-- detail are a fault or tampering, and evidence of it. The entry's first
-- stored read (earliest received_ns, then docked_ns, then dock) stays in
-- recorder_events and is what the analysis uses; every later read that
-- says otherwise is kept here, naming that first read, and raises an
-- event-log-conflict alert (Commit). recorder_events then holds, per
-- entry, only reads that agree. Rows are only inserted.
CREATE TABLE recorder_event_conflicts (
	serial          TEXT NOT NULL,
	idx             BIGINT NOT NULL,
	dock            TEXT NOT NULL,
	docked_ns       BIGINT NOT NULL,
	event_ns        BIGINT NOT NULL,
	kind            TEXT NOT NULL,
	seq             BIGINT NOT NULL,
	detail          TEXT NOT NULL,
	received_ns     BIGINT NOT NULL,
	first_dock      TEXT NOT NULL,
	first_docked_ns BIGINT NOT NULL,
	PRIMARY KEY (serial, idx, dock, docked_ns, event_ns, kind, seq, detail)
);
-- Reads stored before this migration that disagree with their entry's
-- first stored read move here (the reader used to take the earliest
-- docking's read, whichever arrived first). No alert is raised for them;
-- the analysis shows their entries as disputed.
INSERT INTO recorder_event_conflicts (serial, idx, dock, docked_ns, event_ns, kind, seq, detail, received_ns,
	first_dock, first_docked_ns)
SELECT e.serial, e.idx, e.dock, e.docked_ns, e.event_ns, e.kind, e.seq, e.detail, e.received_ns, f.dock, f.docked_ns
FROM recorder_events e JOIN recorder_events f ON f.serial = e.serial AND f.idx = e.idx
WHERE NOT EXISTS (SELECT 1 FROM recorder_events g WHERE g.serial = f.serial AND g.idx = f.idx
		AND (g.received_ns < f.received_ns OR g.received_ns = f.received_ns
			AND (g.docked_ns < f.docked_ns OR g.docked_ns = f.docked_ns AND g.dock < f.dock)))
	AND (e.event_ns <> f.event_ns OR e.kind <> f.kind OR e.seq <> f.seq OR e.detail <> f.detail);
DELETE FROM recorder_events WHERE EXISTS (SELECT 1 FROM recorder_event_conflicts c
	WHERE c.serial = recorder_events.serial AND c.idx = recorder_events.idx
		AND c.dock = recorder_events.dock AND c.docked_ns = recorder_events.docked_ns);

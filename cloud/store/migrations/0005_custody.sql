-- Evidence custody (rules 4 and 5 of DESIGN.md): legal holds set and
-- lifted by a supervisor or admin with a reason, as an append-only history
-- (the current state of an object is its latest row); and indexes for
-- reading the footage access log by viewer and by time.
CREATE TABLE evidence_holds (
	id        {{id}},
	object_id TEXT NOT NULL,
	held      BIGINT NOT NULL,
	actor     TEXT NOT NULL,
	role      TEXT NOT NULL,
	reason    TEXT NOT NULL,
	at_ns     BIGINT NOT NULL
);
CREATE INDEX evidence_holds_by_object ON evidence_holds (object_id, id);
CREATE INDEX footage_access_by_viewer ON footage_access (viewer, at_ns);
CREATE INDEX footage_access_by_time ON footage_access (at_ns);

-- Case index (rule 3: footage is stored by case number, inspected party,
-- officer and time). A segment's own case tag and officer are what its
-- recorder reported; links made after the fact (case number, inspected
-- party) are appended here with who made them and why, never written
-- into the segment.
CREATE TABLE case_links (
	id        {{id}},
	serial    TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	case_no   TEXT NOT NULL,
	case_type TEXT NOT NULL DEFAULT '',
	party     TEXT NOT NULL DEFAULT '',
	actor     TEXT NOT NULL,
	role      TEXT NOT NULL,
	reason    TEXT NOT NULL,
	at_ns     BIGINT NOT NULL
);
CREATE INDEX case_links_by_case ON case_links (case_no);
CREATE INDEX case_links_by_party ON case_links (party);
CREATE INDEX case_links_by_segment ON case_links (serial, seq);
CREATE INDEX segments_by_case ON segments (case_tag);
CREATE INDEX segments_by_officer ON segments (officer, corr_start_ns);
CREATE INDEX segments_by_start ON segments (corr_start_ns);

-- Exports with approval (rule 5): a request (who, which segments, to
-- whom, why) for one unit, decided by a supervisor of that unit other
-- than the requester, then packaged (the originals and a signed manifest;
-- the manifest is kept here, the copy kept). Requests are never edited:
-- each step is an appended event, and every step is also in
-- footage_access.
CREATE TABLE exports (
	id             {{id}},
	unit           TEXT NOT NULL,
	recipient      TEXT NOT NULL,
	purpose        TEXT NOT NULL,
	requested_by   TEXT NOT NULL,
	requested_role TEXT NOT NULL,
	requested_ns   BIGINT NOT NULL
);
CREATE TABLE export_items (
	export_id BIGINT NOT NULL,
	serial    TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	object_id TEXT NOT NULL,
	PRIMARY KEY (export_id, serial, seq)
);
CREATE TABLE export_events (
	id        {{id}},
	export_id BIGINT NOT NULL,
	state     TEXT NOT NULL,
	actor     TEXT NOT NULL,
	role      TEXT NOT NULL,
	unit      TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT '',
	manifest  TEXT NOT NULL DEFAULT '',
	at_ns     BIGINT NOT NULL
);
CREATE INDEX export_events_by_export ON export_events (export_id, id);

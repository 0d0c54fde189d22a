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

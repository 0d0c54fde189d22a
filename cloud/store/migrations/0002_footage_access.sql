-- Every view or export of footage, granted or refused (rule 5: every access
-- is recorded). Rows are never updated or deleted.
CREATE TABLE footage_access (
	id        {{id}},
	at_ns     BIGINT NOT NULL,
	viewer    TEXT NOT NULL,
	role      TEXT NOT NULL,
	object_id TEXT NOT NULL,
	action    TEXT NOT NULL,
	granted   BIGINT NOT NULL,
	reason    TEXT NOT NULL DEFAULT '',
	remote    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX footage_access_by_object ON footage_access (object_id, at_ns);

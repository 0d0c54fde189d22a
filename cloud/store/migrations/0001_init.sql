-- berth collector store, version 1.
-- One schema for SQLite and PostgreSQL. Times are BIGINT Unix nanoseconds
-- (suffix _ns, NULL when unknown): exact on both engines, and the audit
-- hash chain covers nanoseconds, so a stored record re-verifies bit for bit.
-- {{id}} is the one dialect token: an auto-increment primary key.

CREATE TABLE docks (
	id               TEXT PRIMARY KEY,
	unit             TEXT NOT NULL DEFAULT '',
	enrolled         BOOLEAN NOT NULL DEFAULT FALSE,
	token_sha256     TEXT NOT NULL DEFAULT '',
	enrolled_ns      BIGINT,
	last_seen_ns     BIGINT,
	state            TEXT NOT NULL DEFAULT '',
	version          TEXT NOT NULL DEFAULT '',
	slot_count       BIGINT NOT NULL DEFAULT 0,
	buffer_bytes     BIGINT NOT NULL DEFAULT 0,
	buffer_capacity  BIGINT NOT NULL DEFAULT 0,
	backlog_segments BIGINT NOT NULL DEFAULT 0,
	backlog_bytes    BIGINT NOT NULL DEFAULT 0,
	oldest_backlog_ns BIGINT,
	state_ns         BIGINT
);

CREATE TABLE slots (
	dock         TEXT NOT NULL REFERENCES docks(id),
	slot         BIGINT NOT NULL,
	state        TEXT NOT NULL,
	serial       TEXT NOT NULL DEFAULT '',
	fault        TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT '',
	segments     BIGINT NOT NULL DEFAULT 0,
	copied       BIGINT NOT NULL DEFAULT 0,
	uploaded     BIGINT NOT NULL DEFAULT 0,
	released     BIGINT NOT NULL DEFAULT 0,
	bytes_total  BIGINT NOT NULL DEFAULT 0,
	bytes_copied BIGINT NOT NULL DEFAULT 0,
	charging     BOOLEAN NOT NULL DEFAULT FALSE,
	updated_ns   BIGINT NOT NULL,
	PRIMARY KEY (dock, slot)
);

CREATE TABLE devices (
	serial          TEXT PRIMARY KEY,
	model           TEXT NOT NULL DEFAULT '',
	firmware        TEXT NOT NULL DEFAULT '',
	officer         TEXT NOT NULL DEFAULT '',
	unit            TEXT NOT NULL DEFAULT '',
	last_dock       TEXT NOT NULL DEFAULT '',
	last_docked_ns  BIGINT NOT NULL,
	health          TEXT NOT NULL
);

CREATE TABLE device_health (
	serial             TEXT NOT NULL,
	docked_ns          BIGINT NOT NULL,
	dock               TEXT NOT NULL,
	slot               BIGINT NOT NULL,
	msg_id             TEXT NOT NULL,
	firmware           TEXT NOT NULL DEFAULT '',
	officer            TEXT NOT NULL DEFAULT '',
	battery_mv         BIGINT NOT NULL,
	battery_pct        BIGINT NOT NULL,
	battery_health_pct BIGINT NOT NULL,
	battery_cycles     BIGINT NOT NULL,
	battery_temp_c     DOUBLE PRECISION NOT NULL,
	storage_total      BIGINT NOT NULL,
	storage_free       BIGINT NOT NULL,
	storage_health_pct BIGINT NOT NULL,
	storage_errors     BIGINT NOT NULL,
	bad_blocks         BIGINT NOT NULL,
	device_clock_ns    BIGINT,
	dock_clock_ns      BIGINT NOT NULL,
	clock_offset_ms    BIGINT NOT NULL,
	clock_set          BOOLEAN NOT NULL,
	body               TEXT NOT NULL,
	PRIMARY KEY (serial, docked_ns, dock)
);

CREATE TABLE segments (
	serial               TEXT NOT NULL,
	seq                  BIGINT NOT NULL,
	dock                 TEXT NOT NULL,
	msg_id               TEXT NOT NULL,
	start_ns             BIGINT NOT NULL,
	end_ns               BIGINT NOT NULL,
	clock_offset_ms      BIGINT NOT NULL,
	clock_synced_ns      BIGINT,
	corr_start_ns        BIGINT NOT NULL,
	corr_end_ns          BIGINT NOT NULL,
	size                 BIGINT NOT NULL,
	sha256               TEXT NOT NULL,
	computed             TEXT NOT NULL DEFAULT '',
	hash_mismatch        BOOLEAN NOT NULL DEFAULT FALSE,
	stop_cause           TEXT NOT NULL,
	officer              TEXT NOT NULL DEFAULT '',
	case_tag             TEXT NOT NULL DEFAULT '',
	media                TEXT NOT NULL DEFAULT '',
	state                TEXT NOT NULL,
	fault                TEXT NOT NULL DEFAULT '',
	follows_interruption BOOLEAN NOT NULL DEFAULT FALSE,
	receipt_object       TEXT,
	receipt_sha256       TEXT,
	receipt_size         BIGINT,
	receipt_stored_ns    BIGINT,
	receipt_key_id       TEXT,
	receipt_sig          TEXT,
	claim                TEXT NOT NULL,
	conflict_claim       TEXT,
	first_seen_ns        BIGINT NOT NULL,
	reported_ns          BIGINT NOT NULL,
	updated_ns           BIGINT NOT NULL,
	PRIMARY KEY (serial, seq)
);
CREATE INDEX segments_by_time ON segments (serial, corr_start_ns);
CREATE INDEX segments_by_update ON segments (updated_ns);

CREATE TABLE receipts (
	device      TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	object_id   TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	size        BIGINT NOT NULL,
	stored_ns   BIGINT NOT NULL,
	key_id      TEXT NOT NULL,
	signature   TEXT NOT NULL,
	recorded_ns BIGINT NOT NULL,
	PRIMARY KEY (device, seq)
);
CREATE INDEX receipts_by_object ON receipts (object_id);

CREATE TABLE audit_records (
	dock        TEXT NOT NULL REFERENCES docks(id),
	idx         BIGINT NOT NULL,
	time_ns     BIGINT NOT NULL,
	action      TEXT NOT NULL,
	slot        BIGINT NOT NULL,
	serial      TEXT NOT NULL DEFAULT '',
	seq         BIGINT NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT '',
	prev        TEXT NOT NULL,
	hash        TEXT NOT NULL,
	status      TEXT NOT NULL,
	msg_id      TEXT NOT NULL,
	received_ns BIGINT NOT NULL,
	PRIMARY KEY (dock, idx)
);
CREATE INDEX audit_records_by_status ON audit_records (status, received_ns);

CREATE TABLE audit_breaks (
	id          {{id}},
	dock        TEXT NOT NULL,
	idx         BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	detail      TEXT NOT NULL,
	record      TEXT NOT NULL,
	msg_id      TEXT NOT NULL,
	detected_ns BIGINT NOT NULL
);
CREATE INDEX audit_breaks_by_dock ON audit_breaks (dock, idx);

CREATE TABLE messages (
	dock         TEXT NOT NULL,
	id           TEXT NOT NULL,
	type         TEXT NOT NULL,
	sent_ns      BIGINT NOT NULL,
	committed_ns BIGINT NOT NULL,
	PRIMARY KEY (dock, id)
);
CREATE INDEX messages_by_commit ON messages (committed_ns);

CREATE TABLE commands (
	dock      TEXT NOT NULL,
	msg_id    TEXT NOT NULL,
	action    TEXT NOT NULL,
	slot      BIGINT NOT NULL,
	by_user   TEXT NOT NULL DEFAULT '',
	issued_ns BIGINT NOT NULL,
	PRIMARY KEY (dock, msg_id)
);

CREATE TABLE acks (
	dock    TEXT NOT NULL,
	msg_id  TEXT NOT NULL,
	ids     TEXT NOT NULL,
	sent_ns BIGINT NOT NULL,
	PRIMARY KEY (dock, msg_id)
);

CREATE TABLE alerts (
	id              {{id}},
	dedup_key       TEXT NOT NULL UNIQUE,
	kind            TEXT NOT NULL,
	severity        TEXT NOT NULL,
	unit            TEXT NOT NULL,
	officer         TEXT NOT NULL DEFAULT '',
	serial          TEXT NOT NULL DEFAULT '',
	seq             BIGINT NOT NULL DEFAULT 0,
	dock            TEXT NOT NULL DEFAULT '',
	title           TEXT NOT NULL,
	detail          TEXT NOT NULL DEFAULT '',
	at_ns           BIGINT,
	state           TEXT NOT NULL,
	opened_ns       BIGINT NOT NULL,
	updated_ns      BIGINT NOT NULL,
	acknowledged_by TEXT NOT NULL DEFAULT '',
	acknowledged_ns BIGINT,
	comment         TEXT NOT NULL DEFAULT '',
	closed_by       TEXT NOT NULL DEFAULT '',
	closed_ns       BIGINT,
	escalation      BIGINT NOT NULL DEFAULT 0,
	evidence        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX alerts_by_state ON alerts (state, unit, opened_ns);

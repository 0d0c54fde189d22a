-- Incremental, partitioned analysis (issue 11 item 3). One row per
-- recorder: gen counts the changes committed about it (segments, receipts,
-- dockings, health); wake_ns is when it next needs judging (the time of the
-- first change not yet judged, or the next instant a rule's clock runs out;
-- NULL: not until something changes). An analyser leases due rows
-- (PostgreSQL: FOR UPDATE SKIP LOCKED) and clears wake_ns, if gen did not
-- move meanwhile, once its judgement is stored. A lease that expires hands
-- the work to the next analyser.
CREATE TABLE analysis_work (
	serial         TEXT PRIMARY KEY,
	gen            BIGINT NOT NULL,
	wake_ns        BIGINT,
	lease_owner    TEXT,
	lease_until_ns BIGINT
);
CREATE INDEX analysis_work_wake ON analysis_work (wake_ns);

-- Every recorder known before this migration is judged once by the first
-- pass after it.
INSERT INTO analysis_work (serial, gen, wake_ns) SELECT serial, 1, 0 FROM devices;

-- The engine's own alerts are delivered through the announcement claim
-- too: those raised before this migration were delivered then.
UPDATE alerts SET announced_ns = opened_ns WHERE announced_ns IS NULL
	AND kind NOT IN ('recorder-refused', 'receipt-conflict', 'echoed-receipt', 'evidence-corrupt', 'report-time');
CREATE INDEX alerts_unannounced ON alerts (id) WHERE announced_ns IS NULL;

-- Supervisors' decisions that a recorder's receipted segments may be
-- released around a sequence hole (issue 11 item 8): who, when, why, and
-- the missing range decided on. Rows are only inserted.
CREATE TABLE hole_releases (
	id         {{id}},
	serial     TEXT NOT NULL,
	from_seq   BIGINT NOT NULL,
	to_seq     BIGINT NOT NULL,
	alert_id   BIGINT NOT NULL,
	reason     TEXT NOT NULL,
	decided_by TEXT NOT NULL,
	role       TEXT NOT NULL,
	decided_ns BIGINT NOT NULL
);
CREATE INDEX hole_releases_by_serial ON hole_releases (serial, decided_ns);

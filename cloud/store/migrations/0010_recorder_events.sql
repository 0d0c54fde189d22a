-- The recorder's own event log (power, record start/stop, alarms, button
-- marks), as docks read it at docking (wire.RecorderEvents). One row per
-- event per docking that reported it: a dock that read an event twice (it
-- crashed before saving its cursor) adds a row the reader folds by idx.
-- The collector trusts a row only while device_health holds the docking
-- it names from the same dock (Store.RecorderEvents). Rows are only inserted.
CREATE TABLE recorder_events (
	serial      TEXT NOT NULL,
	idx         BIGINT NOT NULL,
	dock        TEXT NOT NULL,
	docked_ns   BIGINT NOT NULL,
	event_ns    BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	detail      TEXT NOT NULL,
	received_ns BIGINT NOT NULL,
	PRIMARY KEY (serial, idx, dock, docked_ns)
);
CREATE INDEX recorder_events_by_time ON recorder_events (serial, event_ns);

-- Checkouts (wire.Checkout): an officer took a ready recorder at a dock by
-- a card tap. Until the recorder's next docking its footage is theirs. The
-- collector believes a checkout only from the dock the recorder was last
-- docked in at the tap (Store.Assignments). Rows are only inserted.
CREATE TABLE checkouts (
	serial      TEXT NOT NULL,
	at_ns       BIGINT NOT NULL,
	dock        TEXT NOT NULL,
	slot        BIGINT NOT NULL,
	officer     TEXT NOT NULL,
	received_ns BIGINT NOT NULL,
	PRIMARY KEY (serial, at_ns, dock)
);

-- Firmware campaigns' progress (DockLink §17): the latest report of each
-- recorder in each campaign, as its dock sent it. A report older than the
-- one held (at_ns) does not replace it.
CREATE TABLE firmware_progress (
	campaign    TEXT NOT NULL,
	serial      TEXT NOT NULL,
	dock        TEXT NOT NULL,
	slot        BIGINT NOT NULL,
	model       TEXT NOT NULL,
	version     TEXT NOT NULL,
	running     TEXT NOT NULL,
	state       TEXT NOT NULL,
	held        BIGINT NOT NULL,
	size        BIGINT NOT NULL,
	detail      TEXT NOT NULL,
	at_ns       BIGINT NOT NULL,
	received_ns BIGINT NOT NULL,
	PRIMARY KEY (campaign, serial)
);

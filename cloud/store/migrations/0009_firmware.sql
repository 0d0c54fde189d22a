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

-- Firmware campaigns (collector firmware campaign ...): which image, and
-- which recorders in which stage: the pilot serials first, then every
-- recorder of the model once the campaign is advanced.
CREATE TABLE firmware_campaigns (
	id          TEXT PRIMARY KEY,
	model       TEXT NOT NULL,
	version     TEXT NOT NULL,
	size        BIGINT NOT NULL,
	sha256      TEXT NOT NULL,
	signature   TEXT NOT NULL,
	image       TEXT NOT NULL,
	stage       TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_ns  BIGINT NOT NULL,
	advanced_ns BIGINT NOT NULL
);

CREATE TABLE firmware_pilot (
	campaign TEXT NOT NULL,
	serial   TEXT NOT NULL,
	PRIMARY KEY (campaign, serial)
);

-- Dockings (DESIGN.md "Trust and judgement": judge on the whole picture).
-- Each docking's messages: the inventory parts the dock reported before
-- copying and its complete marker. Rows are only inserted.
CREATE TABLE dockings (
	serial      TEXT NOT NULL,
	docked_ns   BIGINT NOT NULL,
	phase       TEXT NOT NULL,
	part        BIGINT NOT NULL,
	parts       BIGINT NOT NULL,
	dock        TEXT NOT NULL,
	last_seq    BIGINT NOT NULL,
	recording   BOOLEAN NOT NULL,
	copied      BIGINT NOT NULL,
	received_ns BIGINT NOT NULL,
	PRIMARY KEY (serial, docked_ns, phase, part)
);

-- Every segment a recorder listed at a docking, as it claimed it then.
-- What is inventoried but not (yet) in segments is pending, not missing.
CREATE TABLE inventory (
	serial      TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	docked_ns   BIGINT NOT NULL,
	start_ns    BIGINT NOT NULL,
	end_ns      BIGINT NOT NULL,
	size        BIGINT NOT NULL,
	sha256      TEXT NOT NULL,
	stop_cause  TEXT NOT NULL,
	received_ns BIGINT NOT NULL,
	PRIMARY KEY (serial, seq)
);
CREATE INDEX inventory_by_time ON inventory (serial, start_ns);
CREATE INDEX inventory_by_receipt ON inventory (received_ns);

-- The analysis reads a recorder's standing alerts to withdraw those that
-- stopped holding.
CREATE INDEX alerts_by_serial ON alerts (serial, state);

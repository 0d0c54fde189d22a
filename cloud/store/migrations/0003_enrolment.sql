-- Enrolment registry (DESIGN.md "Trust and judgement": enrolment is the
-- source of identity). Units, the recorders bound to them with their
-- Ed25519 public keys, and who enrolled what. Docks keep their row in
-- docks (id, unit, token hash); enrolled_by records who enrolled them.
-- Rows are changed only by enrolment, never by what a dock reports.
CREATE TABLE units (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	custodian   TEXT NOT NULL DEFAULT '',
	enrolled_by TEXT NOT NULL,
	enrolled_ns BIGINT NOT NULL
);

CREATE TABLE recorders (
	serial      TEXT PRIMARY KEY,
	unit        TEXT NOT NULL REFERENCES units(id),
	public_key  TEXT NOT NULL,
	enrolled_by TEXT NOT NULL,
	enrolled_ns BIGINT NOT NULL
);
CREATE INDEX recorders_by_unit ON recorders (unit, serial);

ALTER TABLE docks ADD COLUMN enrolled_by TEXT NOT NULL DEFAULT '';

-- Alerts raised outside the analysis engine (the trust kinds: refusals,
-- receipt conflicts, echoed receipts, report times) are delivered once by
-- whichever collector claims them first; announced_ns records the claim.
-- Alerts that exist already were delivered by whoever raised them.
ALTER TABLE alerts ADD COLUMN announced_ns BIGINT;
UPDATE alerts SET announced_ns = opened_ns;

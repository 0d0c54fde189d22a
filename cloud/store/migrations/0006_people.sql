-- People of the console (DESIGN.md "Every action has an author"): who may
-- sign in, with which role, scoped to which units; their browser sessions
-- and API tokens (only hashes are stored); and the append-only history of
-- what people did to alerts. An acknowledgement never replaces an earlier
-- one: every acknowledgement, explanation and closing is a row here.
CREATE TABLE people (
	name          TEXT PRIMARY KEY,
	display_name  TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_by    TEXT NOT NULL,
	created_ns    BIGINT NOT NULL
);

CREATE TABLE person_units (
	person TEXT NOT NULL REFERENCES people(name),
	unit   TEXT NOT NULL,
	PRIMARY KEY (person, unit)
);

CREATE TABLE sessions (
	id_sha256  TEXT PRIMARY KEY,
	person     TEXT NOT NULL REFERENCES people(name),
	csrf       TEXT NOT NULL,
	created_ns BIGINT NOT NULL,
	expires_ns BIGINT NOT NULL
);
CREATE INDEX sessions_by_person ON sessions (person);

CREATE TABLE api_tokens (
	sha256     TEXT PRIMARY KEY,
	person     TEXT NOT NULL REFERENCES people(name),
	label      TEXT NOT NULL DEFAULT '',
	created_ns BIGINT NOT NULL,
	expires_ns BIGINT
);

CREATE TABLE alert_history (
	id       {{id}},
	alert_id BIGINT NOT NULL,
	at_ns    BIGINT NOT NULL,
	person   TEXT NOT NULL,
	role     TEXT NOT NULL DEFAULT '',
	action   TEXT NOT NULL,
	comment  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, id);

-- What the alerts table recorded before the history existed.
INSERT INTO alert_history (alert_id, at_ns, person, role, action, comment)
	SELECT id, acknowledged_ns, acknowledged_by, '', 'acknowledge', comment FROM alerts
	WHERE acknowledged_by <> '' AND acknowledged_ns IS NOT NULL;
INSERT INTO alert_history (alert_id, at_ns, person, role, action, comment)
	SELECT id, closed_ns, closed_by, '', 'close', '' FROM alerts WHERE closed_by <> '' AND closed_ns IS NOT NULL;

-- The supervisor's inbox: open alerts of some units, newest first.
CREATE INDEX alerts_inbox ON alerts (state, unit, opened_ns);

-- The console's views of some units' fleet (DevicesIn, DocksIn, SlotsIn).
CREATE INDEX docks_by_unit ON docks (unit);
CREATE INDEX devices_by_unit ON devices (unit);
CREATE INDEX devices_by_last_dock ON devices (last_dock);

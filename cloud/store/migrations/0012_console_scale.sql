-- The console at the design's scale (100k recorders, 2M segments): the
-- inbox lists alerts most severe first, then newest, one page at a time
-- (keyset pagination on the sort key). The sort key's first column is
-- store.severityWeight, written here as the same expression so that both
-- engines match it to the index. Severity and kind end each key so that
-- the inbox's counts (of the most urgent 10,000: AlertCountsUpTo) read
-- the index alone.
CREATE INDEX alerts_state_weight ON alerts (state, (CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END), opened_ns, id, severity, kind);
CREATE INDEX alerts_unit_weight ON alerts (unit, state, (CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END), opened_ns, id, severity, kind);
CREATE INDEX alerts_weight ON alerts ((CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END), opened_ns, id, severity, kind);
-- alerts_inbox (0006) is the same index as alerts_by_state (0001).
DROP INDEX alerts_by_state;
-- The inbox's filters by officer and by dock, in any unit.
CREATE INDEX alerts_by_officer ON alerts (officer, opened_ns);
CREATE INDEX alerts_by_dock ON alerts (dock, opened_ns);
-- Every change to a person of the registry, with who made it (an admin in
-- the console, an operator's CLI): append-only, as the alert history.
CREATE TABLE person_changes (
	id        {{id}},
	person    TEXT NOT NULL,
	at_ns     BIGINT NOT NULL,
	by_person TEXT NOT NULL,
	by_role   TEXT NOT NULL DEFAULT '',
	change    TEXT NOT NULL
);
CREATE INDEX person_changes_by_person ON person_changes (person, id);

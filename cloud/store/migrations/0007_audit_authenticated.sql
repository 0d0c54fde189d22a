-- The "authenticated" recorder policy (store.RecordersAuthenticated) asks,
-- for each upload and report, whether the dock's audit chain holds an
-- "authenticated" record for the recorder: one index lookup, not a scan of
-- the dock's whole chain.
CREATE INDEX audit_records_by_serial ON audit_records (dock, serial, action);

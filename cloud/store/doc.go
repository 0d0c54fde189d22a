// Package store is the collector's database: docks and their slots,
// recorders and their health history, segment manifests with hashes,
// receipts and drift-corrected times, the docks' hash-chained audit records
// (verified on arrival, breaks flagged), the ids of committed messages, and
// alerts.
//
// One schema (embedded, versioned migrations under migrations/) runs on two
// engines through database/sql: SQLite via the pure-Go modernc.org/sqlite
// (the embedded default, one file, WAL) and PostgreSQL via pgx's stdlib
// adapter (production). The dialect differences are few and spelled out in
// dialect.go: placeholders, the auto-increment key, the migration lock and
// the transient errors worth retrying.
//
// Ingest calls Commit with decoded MQTT messages; Commit writes a batch in
// one transaction and reports which (dock, id) pairs were committed before,
// so redelivered messages are acknowledged again without a second write.
// The evidence upload endpoint calls RecordReceipt after the evidence store
// holds an object. The timeline, alerts and dashboard read through
// Segments, Devices, Docks, Slots, AuditBreaks and the alert methods.
package store

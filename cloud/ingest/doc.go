// Package ingest is the collector's MQTT intake: it subscribes to every dock
// topic of berth v1 on a shared subscription (several collectors split the
// load), checks each message (size; then, parsing it once, the JSON
// Schemas' rules and wire's decoder's, checked once on the parsed tree while
// wire's types are filled; topic against envelope; dock enrolment), commits
// batches to the store, and only
// then acknowledges: the broker with a manual PUBACK, the dock with an
// application-level ack on berth/v1/docks/{dock}/ack naming the committed
// ids. A redelivered id is acknowledged again without a second write (the
// store reports it as a duplicate).
//
// Bad input is rejected with a reason, counted in
// berth_ingest_rejected_total{reason} and logged (rate-limited); it is
// PUBACKed so it does not hold the broker's in-flight window, and not
// acknowledged to the dock, whose outbox keeps it. Nothing a dock sends can
// make ingest panic or stop.
//
// # Sessions and delivery
//
// Collectors connect with clean session ON. A shared subscription whose
// member has a persistent session keeps receiving its share while that
// member is offline (Mosquitto, EMQX with clean_session=false): a collector
// that died or was scaled away would silently hold 1/N of the traffic until
// its session expired. With clean sessions the broker routes only to live
// members. What a killed collector had received but not committed is not
// lost: it was never PUBACKed, so a broker that redispatches in-flight
// messages of an ended session (EMQX) gives them to another member, and
// every broker leaves them in the dock's outbox, which publishes them again
// when no application ack came (agent/report, AckTimeout). Mosquitto 2.0
// drops the in-flight messages of an ended clean session (issue #2662), so
// there the dock's retransmission is what carries them; the store makes the
// second delivery harmless.
//
// Mosquitto sends a client at most max_inflight_messages (default 20)
// unacknowledged QoS 1 messages; since ingest PUBACKs only after commit,
// that window bounds one connection's throughput to about 20 messages per
// commit. Config.Conns opens several connections in the same share group to
// widen it.
package ingest

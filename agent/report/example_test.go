package report_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/agent/report"
	"github.com/berthdock/berth/cloud/wire"
)

// A dock queues a report in the outbox, kicks the reporter, and the
// reporter publishes it until the collector acknowledges it.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	db, err := badger.Open(badger.DefaultOptions("/var/lib/berth/db").WithSyncWrites(true))
	if err != nil {
		log.Error("open", "err", err)
		return
	}
	defer db.Close() // after Run has returned: Run joins everything that uses the outbox
	box, err := outbox.New(db, "")
	if err != nil {
		log.Error("outbox", "err", err)
		return
	}
	const dock = "dock-17"
	r := report.New(report.Config{Dock: dock, Broker: "ssl://collector.example:8883", Username: dock, Password: "token"},
		box, func(e wire.Envelope, c *wire.Command) { log.Info("command", "id", e.ID, "action", c.Action) }, log)

	m, err := report.Encode("slot-3-1", dock, time.Now(), wire.TypeSlotState, wire.SlotTopic(dock, 3), true,
		&wire.SlotState{Slot: 3, State: wire.SlotEmpty})
	if err == nil {
		err = box.Put(m) // durable before anything is sent
	}
	if err != nil {
		log.Error("queue", "err", err)
		return
	}
	r.Kick()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := r.Run(ctx); err != nil { // nil when ctx ends; marks the dock offline first
		log.Error("report", "err", err)
	}
}

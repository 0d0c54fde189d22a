package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// Ingest commits decoded reports and acknowledges every id, fresh or
// redelivered; the dashboard reads back.
func Example() {
	dir, err := os.MkdirTemp("", "berth-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	// "postgres://user@host/db?sslmode=verify-full" in production.
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "collector.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if err := s.EnrollDock(ctx, "dock-7", "unit-3", "a-long-random-dock-token"); err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	env, _ := wire.NewEnvelope("m-1", "dock-7", at, wire.TypeSlotState,
		wire.SlotState{Slot: 3, State: wire.SlotCopying, Serial: "R100"})
	body, err := wire.DecodeBody(env) // what ingest does with each MQTT payload
	if err != nil {
		log.Fatal(err)
	}
	batch := []store.Incoming{{Env: env, Body: body}}

	dup, err := s.Commit(ctx, batch)
	fmt.Println("first delivery duplicate:", dup[0], err)
	dup, err = s.Commit(ctx, batch) // the dock did not get our ack and sent it again
	fmt.Println("redelivery duplicate:", dup[0], err)

	slots, _ := s.Slots(ctx, "dock-7")
	fmt.Println(slots[0].State.Slot, slots[0].State.State, slots[0].State.Serial)
	ok, _ := s.CheckDockToken(ctx, "dock-7", "a-long-random-dock-token")
	fmt.Println("token ok:", ok)
	// Output:
	// first delivery duplicate: false <nil>
	// redelivery duplicate: true <nil>
	// 3 copying R100
	// token ok: true
}

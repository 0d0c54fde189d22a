package ingest_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/broker"
	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// A collector on one machine: SQLite store, embedded broker, ingest. A dock
// reports a slot state and receives the collector's ack once it is
// committed.
func Example() {
	dir, err := os.MkdirTemp("", "berth-ingest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.DiscardHandler)

	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "collector.db"), &store.Opts{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.EnrollDock(ctx, "dock-7", "unit-3", "a-long-random-dock-token"); err != nil {
		log.Fatal(err)
	}

	// The broker checks dock tokens against the store.
	b, err := broker.New(broker.Opts{Addr: "127.0.0.1:0", CollectorUser: "collector", CollectorPassword: "collector-secret",
		Docks: st, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	in, err := ingest.New(ingest.Config{Broker: b.URL(), ClientID: "collector-1", Username: "collector",
		Password: "collector-secret", Group: "collectors"}, st, logger, prometheus.NewRegistry())
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	<-in.Ready()

	// The dock: its own id and token, its ack topic.
	acks := make(chan []string, 1)
	dock := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("berth-dock-dock-7").
		SetUsername("dock-7").SetPassword("a-long-random-dock-token"))
	if tok := dock.Connect(); tok.Wait() && tok.Error() != nil {
		log.Fatal(tok.Error())
	}
	defer dock.Disconnect(50)
	dock.Subscribe(wire.AckTopic("dock-7"), 1, func(_ paho.Client, m paho.Message) {
		e, err := wire.DecodeEnvelope(m.Payload())
		if err != nil {
			return
		}
		if body, err := wire.DecodeBody(e); err == nil {
			acks <- body.(*wire.Ack).IDs
		}
	}).Wait()

	env, _ := wire.NewEnvelope("m-1", "dock-7", time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC), wire.TypeSlotState,
		&wire.SlotState{Slot: 3, State: wire.SlotCopying, Serial: "R100"})
	payload, _ := env.Marshal()
	dock.Publish(wire.SlotTopic("dock-7", 3), 1, false, payload).Wait()

	fmt.Println("acknowledged:", <-acks)
	slots, _ := st.Slots(ctx, "dock-7")
	fmt.Println("stored:", slots[0].State.Slot, slots[0].State.State)

	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// acknowledged: [m-1]
	// stored: 3 copying
	// run: <nil>
}

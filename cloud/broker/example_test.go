package broker_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/berthdock/berth/cloud/broker"
)

// enrolled is a stand-in for the store's CheckDockToken.
type enrolled map[string]string

func (e enrolled) DockEnrolled(_ context.Context, id string) (bool, error) {
	_, ok := e[id]
	return ok, nil
}

func (e enrolled) CheckDockToken(_ context.Context, id, token string) (bool, error) {
	want, ok := e[id]
	return ok && want == token, nil
}

// The embedded broker of a single-machine collector: the collector's
// credentials reach everything, each dock only its own subtree.
func Example() {
	b, err := broker.New(broker.Opts{
		Addr:              "127.0.0.1:0", // ":1883" in a station
		CollectorUser:     "collector",
		CollectorPassword: "collector-secret",
		Docks:             enrolled{"dock-7": "a-long-random-dock-token"}, // *store.Store in the collector
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	fmt.Println(b.URL() != "")
	fmt.Println(broker.DockAllowed("dock-7", "berth/v1/docks/dock-7/segments", true))
	fmt.Println(broker.DockAllowed("dock-7", "berth/v1/docks/dock-8/segments", true))
	fmt.Println(broker.DockAllowed("dock-7", "berth/v1/alerts/unit-3/gap", false))
	// Output:
	// true
	// true
	// false
	// false
}

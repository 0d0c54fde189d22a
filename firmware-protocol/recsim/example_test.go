package recsim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// Serve three recorders made from the fixture directory, enrol their keys
// and talk to one as a dock does. Faults go in Config.Faults
// (recsim.ParseFault("disconnect=4M") and friends).
func Example() {
	recs, err := recsim.NewFleet(recsim.FleetOpts{
		Count:  3,
		Dir:    "fixtures/recorder", // or Seed: 42, Gen: &recsim.GenOpts{Segments: 10, MinSize: 8 << 20}
		Config: recsim.Config{DriftPPM: 20},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := recsim.NewServer(recs, &recsim.ServerOpts{TCP: "127.0.0.1:0"}) // PTY: true for seriallink paths
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	keys := docklink.Keys{} // the dock's enrolment list
	for _, ep := range srv.Endpoints() {
		keys[ep.Serial] = ep.PublicKey // ep.Addr (TCP) or ep.PTYPath is where to connect
	}
	c, err := dial(srv.Addr(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	cl := docklink.NewClient(c, nil)
	defer cl.Close()
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if _, err := cl.Hello(cctx); err != nil {
		fmt.Println(err)
		return
	}
	info, err := cl.Authenticate(cctx, keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	segs, err := cl.Inventory(cctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Serial, len(segs), "segments, first stopped by", segs[0].StopCause)
	// Output: BWC-FX-0001-02 6 segments, first stopped by auto-split
}

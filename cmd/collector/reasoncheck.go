package main

import (
	"context"
	"fmt"
	"io"
)

// runReasonCheck is replaced by the spoken-reason check wiring (issue 6).
func runReasonCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "collector reason-check: the detector is not wired in yet")
	return 1
}

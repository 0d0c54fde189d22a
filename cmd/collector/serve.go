package main

import (
	"context"
	"fmt"
	"io"
)

// runServe is replaced by the collector wiring (issue 4).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "collector serve: ingest and upload are not wired in yet")
	return 1
}

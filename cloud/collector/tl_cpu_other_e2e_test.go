//go:build !unix

package collector_test

import "time"

func tlCPUTime() (time.Duration, bool) { return 0, false }

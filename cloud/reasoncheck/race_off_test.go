//go:build !race

package reasoncheck

const raceEnabled = false

package upload

import (
	"errors"
	"fmt"
	"net/http"
)

// Classes of upload errors; every error of the dock's client (agent/uploader)
// wraps exactly one.
var (
	// ErrRejected is a permanent refusal: retrying the same request will
	// not help (wrong hash, bad ids, wrong token, conflicting receipt).
	ErrRejected = errors.New("upload: rejected by the collector")
	// ErrUnavailable is a transient failure (network, 5xx, 429, timeout):
	// retry later; the upload resumes where it stopped.
	ErrUnavailable = errors.New("upload: collector unavailable")
	// ErrBadReceipt is a receipt that does not verify against the
	// collector's key or names another segment; it also wraps
	// wire.ErrReceipt.
	ErrBadReceipt = errors.New("upload: bad receipt")
	// ErrArgument is a call with an invalid device, hash or size, or a
	// source that cannot be read.
	ErrArgument = errors.New("upload: invalid argument")
)

// Error is a collector's error answer.
type Error struct {
	Status  int
	Reason  Reason
	Message string
	Offset  int64 // the upload's durable offset, -1 if the answer had none
}

func (e *Error) Error() string {
	return fmt.Sprintf("upload: collector answered %d %s: %s", e.Status, e.Reason, e.Message)
}

// Retryable reports whether the same request may succeed later.
func (e *Error) Retryable() bool {
	switch {
	case e.Status >= 500, e.Status == http.StatusTooManyRequests, e.Status == http.StatusRequestTimeout:
		return true
	case e.Reason == ReasonOffsetConflict, e.Reason == ReasonShortUpload, e.Reason == ReasonIncompleteChunk:
		return true // the upload resumes from the durable offset
	case e.Reason == ReasonUnknownUpload:
		return true // creating it again finds its receipt or starts afresh
	}
	return false
}

// Unwrap classifies the error as ErrUnavailable or ErrRejected.
func (e *Error) Unwrap() error {
	if e.Retryable() {
		return ErrUnavailable
	}
	return ErrRejected
}

// Retryable reports whether err, from the dock client's Upload, is worth
// retrying.
func Retryable(err error) bool {
	return errors.Is(err, ErrUnavailable)
}

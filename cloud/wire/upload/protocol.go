// Package upload is the resumable upload protocol between a dock and the
// collector's evidence endpoint: its paths, headers, bodies, rejection
// reasons and error classes. It is part of the contract (package wire and
// its sub-packages), imported by both sides: the dock's client is in
// agent/uploader, the collector's endpoint in cloud/upload/server.
//
// # Protocol (v1)
//
// Every request carries the dock's identity and enrolment token:
//
//	Berth-Dock: dock-7
//	Authorization: Bearer <token>
//
// An upload is created for one segment, named by its device, sequence,
// size and SHA-256. Creating is idempotent: the upload id is derived from
// the dock and the segment, so a dock that restarted, or lost its answer,
// creates again and gets the same upload with its durable offset. If the
// collector already holds a receipt (or the object) for exactly that
// segment, the answer carries the receipt and nothing is uploaded.
//
//	POST   /v1/uploads              {"device","seq","size","sha256"} -> 201 Status (200 with a receipt)
//	HEAD   /v1/uploads/{id}         -> 200, Upload-Offset and Upload-Length headers
//	GET    /v1/uploads/{id}         -> 200 Status
//	PATCH  /v1/uploads/{id}         chunk (PUT is the same): Upload-Offset, Chunk-SHA256,
//	                                Content-Length headers -> 204, Upload-Offset
//	POST   /v1/uploads/{id}/finish  -> 200 Status with the signed receipt
//
// A chunk is accepted only at the upload's durable offset, whole, with a
// matching SHA-256, and is on disk before the answer. Finish re-reads the
// staged bytes, checks size and SHA-256, commits the write-once object,
// records the receipt, and answers with the stored receipt (so finishing
// twice, or uploading the same segment again, yields an equivalent
// receipt). Every rejection is a 4xx with an ErrorBody naming a Reason.
package upload

import (
	"github.com/berthdock/berth/cloud/wire"
)

// Paths and headers of the protocol.
const (
	PathPrefix = "/v1/uploads"

	HeaderDock        = "Berth-Dock"
	HeaderOffset      = "Upload-Offset"
	HeaderLength      = "Upload-Length"
	HeaderChunkSHA256 = "Chunk-SHA256"
)

// MaxCreateBody bounds a create request's JSON.
const MaxCreateBody = 4096

// CreateRequest asks for an upload of one segment.
type CreateRequest struct {
	Device string `json:"device"`
	Seq    uint64 `json:"seq"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// Status is an upload as it stands, or its receipt once done.
type Status struct {
	Upload  string        `json:"upload,omitempty"`
	Offset  int64         `json:"offset"`
	Size    int64         `json:"size"`
	Receipt *wire.Receipt `json:"receipt,omitempty"`
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Reason Reason `json:"reason"`
	Error  string `json:"error"`
	// Offset is the upload's durable offset, where it matters (offset
	// conflicts, short uploads).
	Offset *int64 `json:"offset,omitempty"`
}

// Reason names why the collector rejected a request; it is also the label
// of the collector's rejection counter.
type Reason string

// Rejection reasons.
const (
	ReasonUnauthorized    Reason = "unauthorized"       // 401: missing or wrong dock token
	ReasonBadRequest      Reason = "bad_request"        // 400: malformed body or header
	ReasonBadID           Reason = "bad_id"             // 400: device, upload id or path not a valid id
	ReasonBadHash         Reason = "bad_hash"           // 400: sha256 or Chunk-SHA256 not 64 lowercase hex
	ReasonNotFound        Reason = "not_found"          // 404: no such path
	ReasonMethod          Reason = "method_not_allowed" // 405
	ReasonUnknownUpload   Reason = "unknown_upload"     // 404: no such upload (for this dock)
	ReasonLengthRequired  Reason = "length_required"    // 411: chunk without Content-Length
	ReasonOffsetConflict  Reason = "offset_conflict"    // 409: chunk overlaps or leaves a gap
	ReasonChunkTooLarge   Reason = "chunk_too_large"    // 413: chunk over the server's limit
	ReasonTooLarge        Reason = "too_large"          // 413: declared size over the server's limit
	ReasonSizeMismatch    Reason = "size_mismatch"      // 422: bytes beyond the declared size, or a size contradicting the stored object
	ReasonIncompleteChunk Reason = "incomplete_chunk"   // 400: body shorter than Content-Length
	ReasonChunkChecksum   Reason = "chunk_checksum"     // 422: chunk does not hash to Chunk-SHA256
	ReasonShortUpload     Reason = "short_upload"       // 409: finish before every byte arrived
	ReasonHashMismatch    Reason = "hash_mismatch"      // 422: whole upload does not hash to sha256 (staging discarded)
	ReasonReceiptConflict Reason = "receipt_conflict"   // 409: device/seq already receipted with another hash or size
	ReasonRecorderRefused Reason = "recorder_refused"   // 403: the dock may not upload for this recorder (enrolment)
	ReasonStagingQuota    Reason = "staging_quota"      // 429: the dock's unfinished uploads hold its staging quota; finish them first
)

// Reasons lists every Reason.
var Reasons = []Reason{ReasonUnauthorized, ReasonBadRequest, ReasonBadID, ReasonBadHash, ReasonNotFound, ReasonMethod,
	ReasonUnknownUpload, ReasonLengthRequired, ReasonOffsetConflict, ReasonChunkTooLarge, ReasonTooLarge,
	ReasonSizeMismatch, ReasonIncompleteChunk, ReasonChunkChecksum, ReasonShortUpload, ReasonHashMismatch,
	ReasonReceiptConflict, ReasonRecorderRefused, ReasonStagingQuota}

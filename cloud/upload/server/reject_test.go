package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire/upload"
)

type req struct {
	method, path string
	hdr          map[string]string // "" value deletes the default
	body         []byte
	chunked      bool // send without Content-Length
}

func (e *env) send(t *testing.T, q req) (*http.Response, upload.ErrorBody, []byte) {
	t.Helper()
	var body io.Reader = bytes.NewReader(q.body)
	if q.chunked {
		body = io.MultiReader(bytes.NewReader(q.body)) // unknown length: chunked encoding
	}
	r, err := http.NewRequest(q.method, e.http.URL+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.body == nil && !q.chunked {
		r.Body, r.ContentLength = nil, 0
	}
	r.Header.Set(upload.HeaderDock, testDock)
	r.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range q.hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb upload.ErrorBody
	json.Unmarshal(b, &eb)
	return resp, eb, b
}

func createBody(device string, seq uint64, size int64, sum string) []byte {
	b, _ := json.Marshal(upload.CreateRequest{Device: device, Seq: seq, Size: size, SHA256: sum})
	return b
}

// begin creates an upload by raw request and returns its id.
func (e *env) begin(t *testing.T, device string, seq uint64, size int64, sum string) string {
	t.Helper()
	resp, _, b := e.send(t, req{method: "POST", path: upload.PathPrefix, body: createBody(device, seq, size, sum)})
	var st upload.Status
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &st) != nil || st.Upload == "" {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	return st.Upload
}

func chunkReq(id string, off int64, p []byte) req {
	return req{method: "PATCH", path: upload.PathPrefix + "/" + id, body: p,
		hdr: map[string]string{upload.HeaderOffset: strconv.FormatInt(off, 10), upload.HeaderChunkSHA256: hexSum(p)}}
}

func TestRejections(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 64<<10)
	data, sum := payload(100_000, 8)
	id := e.begin(t, "R1", 1, int64(len(data)), sum)
	if resp, _, b := e.send(t, chunkReq(id, 0, data[:40_000])); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first chunk: %d %s", resp.StatusCode, b)
	}
	idOther := ""
	{ // an upload of the other dock
		r := req{method: "POST", path: upload.PathPrefix, body: createBody("R2", 1, 10, sum),
			hdr: map[string]string{upload.HeaderDock: otherDock, "Authorization": "Bearer " + otherTok}}
		resp, _, b := e.send(t, r)
		var st upload.Status
		json.Unmarshal(b, &st)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("other dock create: %d %s", resp.StatusCode, b)
		}
		idOther = st.Upload
	}
	path := upload.PathPrefix + "/" + id
	good := data[40_000:50_000]
	withHdr := func(q req, k, v string) req {
		h := map[string]string{}
		for a, b := range q.hdr {
			h[a] = b
		}
		h[k] = v
		q.hdr = h
		return q
	}
	cases := []struct {
		name   string
		q      req
		status int
		reason upload.Reason
		offset int64 // expected ErrorBody offset, -1 none
	}{
		{"no credentials", withHdr(withHdr(chunkReq(id, 40_000, good), "Authorization", ""), upload.HeaderDock, ""), 401, upload.ReasonUnauthorized, -1},
		{"wrong token", withHdr(chunkReq(id, 40_000, good), "Authorization", "Bearer "+otherTok), 401, upload.ReasonUnauthorized, -1},
		{"basic auth", withHdr(chunkReq(id, 40_000, good), "Authorization", "Basic ZG9jay0xOnRva2Vu"), 401, upload.ReasonUnauthorized, -1},
		{"dock id traversal", withHdr(chunkReq(id, 40_000, good), upload.HeaderDock, "../dock-1"), 401, upload.ReasonUnauthorized, -1},
		{"create device traversal", req{method: "POST", path: upload.PathPrefix, body: createBody("../../etc", 1, 10, sum)}, 400, upload.ReasonBadID, -1},
		{"create device slash", req{method: "POST", path: upload.PathPrefix, body: createBody("R1/x", 1, 10, sum)}, 400, upload.ReasonBadID, -1},
		{"create uppercase hash", req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, 10, strings.ToUpper(sum))}, 400, upload.ReasonBadHash, -1},
		{"create short hash", req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, 10, sum[:10])}, 400, upload.ReasonBadHash, -1},
		{"create negative size", req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, -5, sum)}, 400, upload.ReasonBadRequest, -1},
		{"create huge size", req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, DefaultMaxSize+1, sum)}, 413, upload.ReasonTooLarge, -1},
		{"create seq past int64", req{method: "POST", path: upload.PathPrefix, body: []byte(`{"device":"R1","seq":18446744073709551615,"size":1,"sha256":"` + sum + `"}`)}, 400, upload.ReasonBadRequest, -1},
		{"create malformed json", req{method: "POST", path: upload.PathPrefix, body: []byte(`{"device":`)}, 400, upload.ReasonBadRequest, -1},
		{"create unknown field", req{method: "POST", path: upload.PathPrefix, body: []byte(`{"device":"R1","seq":1,"size":1,"sha256":"` + sum + `","path":"/etc"}`)}, 400, upload.ReasonBadRequest, -1},
		{"create trailing data", req{method: "POST", path: upload.PathPrefix, body: append(createBody("R1", 2, 10, sum), []byte(`{}`)...)}, 400, upload.ReasonBadRequest, -1},
		{"create oversized body", req{method: "POST", path: upload.PathPrefix, body: bytes.Repeat([]byte(" "), upload.MaxCreateBody+1)}, 400, upload.ReasonBadRequest, -1},
		{"unknown upload", chunkReq("0123456789abcdef0123456789abcdef", 0, good), 404, upload.ReasonUnknownUpload, -1},
		{"other dock's upload", chunkReq(idOther, 0, good[:10]), 404, upload.ReasonUnknownUpload, -1},
		{"other dock's upload status", req{method: "GET", path: upload.PathPrefix + "/" + idOther}, 404, upload.ReasonUnknownUpload, -1},
		{"id traversal", withHdr(chunkReq(id, 40_000, good), "X", "x"), 0, "", 0}, // placeholder replaced below
		{"id uppercase", req{method: "GET", path: upload.PathPrefix + "/" + strings.ToUpper(id)}, 400, upload.ReasonBadID, -1},
		{"id short", req{method: "GET", path: upload.PathPrefix + "/abc"}, 400, upload.ReasonBadID, -1},
		{"id encoded dots", req{method: "GET", path: upload.PathPrefix + "/%2e%2e%2f%2e%2e%2fetc"}, 400, upload.ReasonBadID, -1},
		{"chunk checksum mismatch", withHdr(chunkReq(id, 40_000, good), upload.HeaderChunkSHA256, hexSum(data[:10])), 422, upload.ReasonChunkChecksum, 40_000},
		{"chunk checksum missing", withHdr(chunkReq(id, 40_000, good), upload.HeaderChunkSHA256, ""), 400, upload.ReasonBadHash, -1},
		{"chunk checksum malformed", withHdr(chunkReq(id, 40_000, good), upload.HeaderChunkSHA256, "zz"), 400, upload.ReasonBadHash, -1},
		{"chunk overlapping", chunkReq(id, 30_000, data[30_000:45_000]), 409, upload.ReasonOffsetConflict, 40_000},
		{"chunk out of order", chunkReq(id, 50_000, data[50_000:60_000]), 409, upload.ReasonOffsetConflict, 40_000},
		{"chunk too large", chunkReq(id, 40_000, make([]byte, 64<<10+1)), 413, upload.ReasonChunkTooLarge, -1},
		{"chunk past declared size", chunkReq(id, 40_000, make([]byte, 60_001)), 422, upload.ReasonSizeMismatch, 40_000},
		{"chunk negative offset", withHdr(chunkReq(id, 40_000, good), upload.HeaderOffset, "-1"), 400, upload.ReasonBadRequest, -1},
		{"chunk offset with sign", withHdr(chunkReq(id, 40_000, good), upload.HeaderOffset, "+40000"), 400, upload.ReasonBadRequest, -1},
		{"chunk offset overflow", withHdr(chunkReq(id, 40_000, good), upload.HeaderOffset, "9999999999999999999"), 400, upload.ReasonBadRequest, -1},
		{"chunk offset missing", withHdr(chunkReq(id, 40_000, good), upload.HeaderOffset, ""), 400, upload.ReasonBadRequest, -1},
		{"chunk without length", func() req { q := chunkReq(id, 40_000, good); q.chunked = true; return q }(), 411, upload.ReasonLengthRequired, -1},
		{"finish short", req{method: "POST", path: path + "/finish"}, 409, upload.ReasonShortUpload, 40_000},
		{"method", req{method: "DELETE", path: path}, 405, upload.ReasonMethod, -1},
		{"method on collection", req{method: "GET", path: upload.PathPrefix}, 405, upload.ReasonMethod, -1},
		{"finish by GET", req{method: "GET", path: path + "/finish"}, 405, upload.ReasonMethod, -1},
		{"unknown action", req{method: "POST", path: path + "/commit"}, 404, upload.ReasonNotFound, -1},
	}
	// Path traversal in the id, raw (not cleaned by the client).
	cases[18] = struct {
		name   string
		q      req
		status int
		reason upload.Reason
		offset int64
	}{"id traversal", req{method: "GET", path: upload.PathPrefix + "/..%2f..%2fstaging"}, 400, upload.ReasonBadID, -1}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, total := e.rejections(tc.reason), e.totalRejections()
			resp, eb, b := e.send(t, tc.q)
			if resp.StatusCode != tc.status || eb.Reason != tc.reason {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, tc.reason)
			}
			if tc.offset >= 0 && (eb.Offset == nil || *eb.Offset != tc.offset ||
				resp.Header.Get(upload.HeaderOffset) != strconv.FormatInt(tc.offset, 10)) {
				t.Fatalf("offset %v / %q, want %d", eb.Offset, resp.Header.Get(upload.HeaderOffset), tc.offset)
			}
			if e.rejections(tc.reason) != before+1 || e.totalRejections() != total+1 {
				t.Fatalf("rejection not counted once: %s %v -> %v", tc.reason, before, e.rejections(tc.reason))
			}
			st, err := e.ev.Staged(context.Background(), id)
			if err != nil || st.Offset != 40_000 {
				t.Fatalf("staging changed: %+v %v", st, err)
			}
			if len(e.objects()) != 0 {
				t.Fatalf("objects stored: %v", e.objects())
			}
		})
	}
	// The upload still completes after all that.
	r, err := e.client(t, uploader.ClientOpts{ChunkSize: 32 << 10}).Upload(context.Background(), "R1", 1, int64(len(data)), sum,
		bytes.NewReader(data), nil)
	if err != nil || !bytes.Equal(e.object(t, r.ObjectID), data) {
		t.Fatalf("after rejections: %v", err)
	}
}

func TestRejectWholeHashMismatch(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, _ := payload(50_000, 9)
	_, claimed := payload(50_000, 10) // what the dock claims; the bytes are other
	id := e.begin(t, "R1", 4, 50_000, claimed)
	for off := 0; off < len(data); off += 20_000 {
		p := data[off:min(off+20_000, len(data))]
		if resp, _, b := e.send(t, chunkReq(id, int64(off), p)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("chunk %d: %d %s", off, resp.StatusCode, b)
		}
	}
	resp, eb, _ := e.send(t, req{method: "POST", path: upload.PathPrefix + "/" + id + "/finish"})
	if resp.StatusCode != 422 || eb.Reason != upload.ReasonHashMismatch || e.rejections(upload.ReasonHashMismatch) != 1 {
		t.Fatalf("finish: %d %+v", resp.StatusCode, eb)
	}
	if len(e.objects()) != 0 || len(e.stagings()) != 0 || e.receiptRows("R1", 4) != 0 {
		t.Fatalf("stored after mismatch: %v %v", e.objects(), e.stagings())
	}
	// A new attempt starts from zero.
	if st := e.begin(t, "R1", 4, 50_000, claimed); st != id {
		t.Fatalf("upload id changed: %s", st)
	}
	if got, _ := e.ev.Staged(context.Background(), id); got.Offset != 0 {
		t.Fatalf("restart offset %d", got.Offset)
	}
}

func TestRejectReceiptConflictAndSizeMismatch(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(30_000, 11)
	ctx := context.Background()
	if _, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "R1", 1, 30_000, sum, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	other, osum := payload(30_000, 12)
	// R1/1 again with other footage: the recorder reused a sequence number.
	_, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "R1", 1, 30_000, osum, bytes.NewReader(other), nil)
	var ue *upload.Error
	if !asErr(err, &ue) || ue.Status != 409 || ue.Reason != upload.ReasonReceiptConflict {
		t.Fatalf("reused seq: %v", err)
	}
	// The stored object's hash with another size.
	resp, eb, _ := e.send(t, req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, 29_999, sum)})
	if resp.StatusCode != 422 || eb.Reason != upload.ReasonSizeMismatch {
		t.Fatalf("size mismatch: %d %+v", resp.StatusCode, eb)
	}
	if e.rejections(upload.ReasonReceiptConflict) != 1 || e.rejections(upload.ReasonSizeMismatch) != 1 {
		t.Fatal("not counted")
	}
	if len(e.objects()) != 1 || e.receiptRows("R1", 2) != 0 {
		t.Fatalf("stored: %v", e.objects())
	}
}

// A chunk whose body ends before its Content-Length (the dock lost power
// mid-request) is counted and stores nothing.
func TestRejectIncompleteChunk(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(10_000, 13)
	id := e.begin(t, "R1", 1, 10_000, sum)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s/%s HTTP/1.1\r\nHost: x\r\n%s: %s\r\nAuthorization: Bearer %s\r\n%s: 0\r\n%s: %s\r\nContent-Length: 10000\r\n\r\n",
		upload.PathPrefix, id, upload.HeaderDock, testDock, testToken, upload.HeaderOffset, upload.HeaderChunkSHA256, hexSum(data))
	conn.Write(data[:4000])
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for e.rejections(upload.ReasonIncompleteChunk) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("incomplete chunk not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st, _ := e.ev.Staged(context.Background(), id); st.Offset != 0 {
		t.Fatalf("offset %d after an incomplete chunk", st.Offset)
	}
}

func asErr(err error, target **upload.Error) bool { return errors.As(err, target) }

// Paths the mux would not route here still get a counted answer when the
// handler is mounted more widely.
func TestRejectForeignPath(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	for _, p := range []string{"/", "/v1/uploadsx", "/v2/uploads", ""} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.URL.Path = p
		e.srv.ServeHTTP(w, r)
		if w.Code != 404 || !strings.Contains(w.Body.String(), string(upload.ReasonNotFound)) {
			t.Errorf("%q: %d %s", p, w.Code, w.Body)
		}
	}
	if e.rejections(upload.ReasonNotFound) != 4 {
		t.Fatal("not counted")
	}
}

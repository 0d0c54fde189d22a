package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/wire/upload"
)

type fuzzSeed struct {
	method, path, headers string
	body                  []byte
}

// fuzzSeeds reach every handler: creates, chunks of the pre-made upload
// (fuzzUpload), status, finish, and hostile variants of each.
func fuzzSeeds() []fuzzSeed {
	data, sum := fuzzPayload()
	auth := fmt.Sprintf("%s: %s\nAuthorization: Bearer %s\n", upload.HeaderDock, testDock, testToken)
	id := fuzzUploadID()
	p := upload.PathPrefix + "/" + id
	chunk := func(off int, b []byte) string {
		return auth + fmt.Sprintf("%s: %d\n%s: %s\nContent-Length: %d\n", upload.HeaderOffset, off, upload.HeaderChunkSHA256, hexSum(b), len(b))
	}
	return []fuzzSeed{
		{"POST", upload.PathPrefix, auth, createBody("R1", 1, int64(len(data)), sum)},
		{"POST", upload.PathPrefix, auth, []byte(`{"device":"../x","seq":-1,"size":1e99,"sha256":null}`)},
		{"POST", upload.PathPrefix, auth, []byte(`{"device":"R1","seq":1,"size":1,"sha256":"` + sum + `"}{`)},
		{"POST", upload.PathPrefix, "", nil},
		{"HEAD", p, auth, nil},
		{"GET", p, auth, nil},
		{"PATCH", p, chunk(0, data[:100]), data[:100]},
		{"PUT", p, chunk(0, data), data},
		{"PATCH", p, chunk(100, data[100:]), data[100:]},
		{"PATCH", p, chunk(0, data[:100]) + "Content-Length: 5000\n", data[:100]},
		{"PATCH", p, chunk(0, data[:100]), data[:99]},
		{"PATCH", p, auth + upload.HeaderOffset + ": -0\n", data[:10]},
		{"POST", p + "/finish", auth, nil},
		{"POST", upload.PathPrefix + "/../../staging/" + id + "/finish", auth, nil},
		{"GET", upload.PathPrefix + "/" + strings.Repeat("a", 4096), auth, nil},
		{"GET", "/v1/uploadsx", auth, nil},
		{"\x00", "\x00", "\x00: \x00\n", []byte{0}},
	}
}

func fuzzPayload() ([]byte, string) { return payload(300, 99) }

func fuzzUploadID() string {
	data, sum := fuzzPayload()
	return uploadID(testDock, upload.CreateRequest{Device: "R1", Seq: 1, Size: int64(len(data)), SHA256: sum})
}

// FuzzServer feeds hostile requests to the endpoint: it never panics, never
// fails on its own side (5xx), and every 4xx is counted once, by a known
// reason, with an ErrorBody.
func FuzzServer(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.method, s.path, s.headers, s.body)
	}
	e := newEnv(f, sqliteBackend(f), 1024)
	data, sum := fuzzPayload()
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, fuzzRequest("POST", upload.PathPrefix,
		fmt.Sprintf("%s: %s\nAuthorization: Bearer %s\n", upload.HeaderDock, testDock, testToken),
		createBody("R1", 1, int64(len(data)), sum)))
	if w.Code != http.StatusCreated {
		f.Fatalf("setup create: %d %s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte) {
		before, fails := e.totalRejections(), counterValue(e.srv.m.failures)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, fuzzRequest(method, path, headers, body))
		after := e.totalRejections()
		switch {
		case w.Code >= 500:
			t.Fatalf("%d %s", w.Code, w.Body)
		case counterValue(e.srv.m.failures) != fails:
			t.Fatal("failure counted")
		case w.Code >= 400:
			var eb upload.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || !slices.Contains(upload.Reasons, eb.Reason) {
				t.Fatalf("%d answered %q", w.Code, w.Body)
			}
			if after != before+1 {
				t.Fatalf("%d %s counted %v times", w.Code, eb.Reason, after-before)
			}
		case w.Code >= 200:
			if after != before {
				t.Fatalf("%d counted as a rejection", w.Code)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}

// fuzzRequest builds a request as net/http's server would hand it over,
// without its validation: any method, path and header bytes.
func fuzzRequest(method, path, headers string, body []byte) *http.Request {
	h := http.Header{}
	for line := range strings.SplitSeq(headers, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok {
			h.Add(http.CanonicalHeaderKey(k), v)
		}
	}
	cl := int64(len(body))
	if v := h.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			cl = n
		} else {
			cl = -1
		}
	}
	var rc io.ReadCloser = http.NoBody
	if len(body) > 0 {
		rc = io.NopCloser(bytes.NewReader(body))
	}
	return &http.Request{Method: method, URL: &url.URL{Path: path}, Header: h, Body: rc, ContentLength: cl,
		Host: "collector", RequestURI: path, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// TestWriteFuzzSeeds writes the seed corpus into testdata/fuzz when
// BERTH_WRITE_SEEDS is set (the files are committed).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("BERTH_WRITE_SEEDS") == "" {
		t.Skip("set BERTH_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzServer")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzServer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds() {
		b := fmt.Sprintf("go test fuzz v1\nstring(%s)\nstring(%s)\nstring(%s)\n[]byte(%s)\n",
			strconv.Quote(s.method), strconv.Quote(s.path), strconv.Quote(s.headers), strconv.Quote(string(s.body)))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

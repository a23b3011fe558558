package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

func TestSummarize(t *testing.T) {
	stream := strings.Join([]string{
		`{"ImportPath":"x/broken","Action":"build-output","Output":"# x/broken\n"}`,
		`{"ImportPath":"x/broken","Action":"build-output","Output":"broken.go:3:1: syntax error\n"}`,
		`{"ImportPath":"x/broken","Action":"build-fail"}`,
		`{"Action":"start","Package":"x/broken"}`,
		`{"Action":"fail","Package":"x/broken","Elapsed":0,"FailedBuild":"x/broken"}`,
		`{"Action":"start","Package":"x/a"}`,
		`{"Action":"run","Package":"x/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"x/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"x/a","Test":"TestOK/sub","Elapsed":0}`,
		`{"Action":"pass","Package":"x/a","Test":"TestOK","Elapsed":0}`,
		`{"Action":"output","Package":"x/a","Test":"TestSkip","Output":"    a_test.go:9: ../shared/pcaps not found: TestSkip skips the whole test\n"}`,
		`{"Action":"output","Package":"x/a","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}`,
		`{"Action":"skip","Package":"x/a","Test":"TestSkip","Elapsed":0}`,
		`{"Action":"output","Package":"x/a","Test":"TestBad","Output":"    a_test.go:20: want 1, got 2\n"}`,
		`{"Action":"fail","Package":"x/a","Test":"TestBad/case","Elapsed":0}`,
		`{"Action":"fail","Package":"x/a","Test":"TestBad","Elapsed":0}`,
		`{"Action":"output","Package":"x/a","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"x/a","Elapsed":1.5}`,
		`{"Action":"skip","Package":"x/empty"}`,
		`not json: printed as is`,
	}, "\n")
	var out strings.Builder
	c, err := summarize(strings.NewReader(stream), &out, []string{"deps: a note"})
	if err != nil {
		t.Fatal(err)
	}
	want := counts{packages: 2, passed: 1, skipped: 1, failed: 1, subPassed: 1, subFailed: 1, buildFailed: 1}
	if c != want {
		t.Errorf("counts %+v, want %+v", c, want)
	}
	testutil.Golden(t, filepath.Join("testdata", "summary.golden"), []byte(out.String()))
}

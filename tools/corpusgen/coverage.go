package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

// coverage checks that the corpus as a whole shows every conntrack state and
// flag at least once, in some conntrack.txt or events.txt.
func coverage(out string, scs []*scenario) []string {
	var text []byte
	for _, sc := range scs {
		for _, f := range []string{kernelcorpus.ConntrackFile, kernelcorpus.EventsFile} {
			b, err := os.ReadFile(filepath.Join(out, sc.name, f))
			if err == nil {
				text = append(text, b...)
			}
		}
	}
	var miss []string
	for _, want := range []string{
		`SYN_SENT `, `SYN_RECV `, `ESTABLISHED `, `FIN_WAIT `, `CLOSE_WAIT `, `LAST_ACK `,
		`TIME_WAIT `, `CLOSE `, `SYN_SENT2 `, `\[UNREPLIED\]`, `\[ASSURED\]`, `\[DESTROY\]`,
	} {
		if !regexp.MustCompile(want).Match(text) {
			miss = append(miss, fmt.Sprintf("no scenario shows %s", want))
		}
	}
	return miss
}

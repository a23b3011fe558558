// Command tcptrack tracks TCP connections passively, the way Linux's
// conntrack would have for the same packets.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// Exit statuses scripts can rely on.
const (
	exitOK    = 0
	exitInput = 1 // unreadable or bad input, capture failure
	exitUsage = 2 // bad flags or arguments
)

// usageError marks errors that are the caller's wording, not the input's.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const mainUsage = `tcptrack — passive TCP connection tracking, as Linux conntrack would see it

Usage:
  tcptrack read [flags] FILE... [BPF expression]   replay pcap/pcapng files ("-" = stdin)
  tcptrack live -i IFACE [flags] [BPF expression]  sniff an interface (libpcap), view or stream the table
  tcptrack trace [flags] FILE... [BPF expression]  a ladder of the selected connections, packet by packet
  tcptrack help [command]                          show help
  tcptrack version

Run "tcptrack read --help", "tcptrack live --help" or "tcptrack trace --help" for their flags.
`

func main() {
	// TCPTRACK_CPUPROFILE=FILE writes a Go CPU profile of the whole run
	// (go tool pprof FILE): how the performance figures in the README
	// were broken down.
	if path := os.Getenv("TCPTRACK_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "tcptrack: TCPTRACK_CPUPROFILE: %v\n", err)
			os.Exit(exitUsage)
		}
		code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: tests call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "read":
		err = cmdRead(args[1:], stdin, stdout, stderr)
	case "live":
		err = cmdLive(args[1:], stdin, stdout, stderr)
	case "trace":
		err = cmdTrace(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] == "read" {
			err = cmdRead([]string{"--help"}, stdin, stdout, stderr)
			break
		}
		if len(args) > 1 && args[1] == "live" {
			err = cmdLive([]string{"--help"}, stdin, stdout, stderr)
			break
		}
		if len(args) > 1 && args[1] == "trace" {
			err = cmdTrace([]string{"--help"}, stdin, stdout, stderr)
			break
		}
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	case "version", "--version":
		fmt.Fprintln(stdout, "tcptrack", version)
		return exitOK
	default:
		fmt.Fprintf(stderr, "tcptrack: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitInput
	}
}

const version = "0.1.0"

// subscriber.go: the seed's subscriber (shared/seeds 003, "Here's a NATS
// cluster in action"), adapted to take its server URL and subject from the
// command line and to report what it received instead of logging forever.
//
//	subscriber -url nats://127.0.0.1:4222 -subject updates [-queue Q] [-ready R] [-json]
//
// Subscribes SUBJECT (in queue group Q if given), then SUBJECT.end (plain)
// and R (default SUBJECT.ready), which it answers: a publisher requesting R
// until the answer comes knows the earlier subscriptions of this connection
// have reached its server (a server sends one connection's interest over a
// route in order). Flushes, prints "READY", then reads until a message on
// SUBJECT.end arrives (the publisher's last one, so every earlier message
// of that publisher to this connection has arrived), prints what it got and
// exits 0; exit 1 if no end message came within -timeout.
//
// Output: "RECEIVED <n>" and "SEQS <i,j,...>" (the numbers ending each
// payload, "Hello NATS #<i>", in arrival order); with -json instead one
// JSON line per message: seq, len, sha256 of the payload, headers.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "server URL")
	subject := flag.String("subject", "updates", "subject")
	queue := flag.String("queue", "", "queue group (none: plain subscription)")
	ready := flag.String("ready", "", "readiness subject (default SUBJECT.ready)")
	asJSON := flag.Bool("json", false, "one JSON line per message")
	timeout := flag.Duration("timeout", 30*time.Second, "bound for the whole run")
	flag.Parse()
	if *ready == "" {
		*ready = *subject + ".ready"
	}

	// Connect to NATS
	nc, err := nats.Connect(*url, nats.Name("subscriber"))
	if err != nil {
		log.Fatalf("Error connecting to NATS: %v", err)
	}
	defer nc.Close()
	log.Println("Subscriber connected to NATS.")

	// One channel for the data and the end subscriptions: nats.go's reader
	// puts channel subscriptions' messages in it in arrival order (async
	// handlers run on one goroutine per subscription, which would lose the
	// order between the two). Large enough never to be full (a full channel
	// drops: nats.go reports a slow consumer, which fails the run).
	msgs := make(chan *nats.Msg, 1<<17)
	// Subscribe to messages
	var sub *nats.Subscription
	if *queue != "" {
		sub, err = nc.ChanQueueSubscribe(*subject, *queue, msgs)
	} else {
		sub, err = nc.ChanSubscribe(*subject, msgs)
	}
	if err != nil {
		log.Fatalf("Error subscribing to subject: %v", err)
	}
	defer sub.Unsubscribe()
	endSubject := *subject + ".end"
	if _, err = nc.ChanSubscribe(endSubject, msgs); err != nil {
		log.Fatalf("Error subscribing to end subject: %v", err)
	}
	if _, err = nc.Subscribe(*ready, func(m *nats.Msg) { m.Respond([]byte("ready")) }); err != nil {
		log.Fatalf("Error subscribing to ready subject: %v", err)
	}
	if err = nc.Flush(); err != nil {
		log.Fatalf("Flush: %v", err)
	}
	fmt.Println("READY")

	var got []*nats.Msg
	deadline := time.After(*timeout)
wait:
	for {
		select {
		case m := <-msgs:
			if m.Subject == endSubject {
				break wait
			}
			got = append(got, m)
		case <-deadline:
			fmt.Printf("TIMEOUT no end message within %v; %d messages received\n", *timeout, len(got))
			os.Exit(1)
		}
	}
	if err := nc.LastError(); err != nil {
		fmt.Printf("FAIL async error: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("RECEIVED %d\n", len(got))
	if *asJSON {
		for _, m := range got {
			sum := sha256.Sum256(m.Data)
			line, _ := json.Marshal(map[string]interface{}{
				"subject": m.Subject, "seq": seqOf(m), "len": len(m.Data),
				"sha256": hex.EncodeToString(sum[:]), "hdr": m.Header,
			})
			fmt.Println(string(line))
		}
		return
	}
	seqs := make([]string, len(got))
	for i, m := range got {
		seqs[i] = strconv.Itoa(seqOf(m))
	}
	fmt.Printf("SEQS %s\n", strings.Join(seqs, ","))
}

// seqOf is the number after the last '#' of a "Hello NATS #<i>" payload, or
// the X-Seq header of a large message; -1 if neither.
func seqOf(m *nats.Msg) int {
	if v := m.Header.Get("X-Seq"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	if len(m.Data) < 64 {
		s := string(m.Data)
		if i := strings.LastIndexByte(s, '#'); i >= 0 {
			if n, err := strconv.Atoi(s[i+1:]); err == nil {
				return n
			}
		}
	}
	return -1
}

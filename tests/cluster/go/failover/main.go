// failover: a nats.go client given one cluster member's URL only, riding
// out that member's death through the URLs the cluster advertised to it
// (INFO connect_urls, nats.go's "discovered servers").
//
//	failover -url nats://127.0.0.1:<C> -subject S [-after 20] [-timeout 30s]
//
// Connects, subscribes SUBJECT, prints "CONNECTED <url>", "DISCOVERED
// <url,...>" and "READY". Messages (decimal sequence numbers, published by
// the caller elsewhere in the cluster) are counted; once AFTER have
// arrived it prints "TRAFFIC" (the caller then kills the member). Prints
// "DISCONNECTED" and "RECONNECTED <url>" as nats.go reports them; once AFTER
// more messages have arrived after the reconnect (or -timeout has passed)
// it prints "SEQS <i,j,...>" (every number received, in arrival order) and
// "DONE", and exits 0 (1 if it never reconnected).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "the one server URL given")
	subject := flag.String("subject", "fo", "subject")
	after := flag.Int("after", 20, "messages to see before TRAFFIC, and again after the reconnect")
	timeout := flag.Duration("timeout", 30*time.Second, "bound for the whole run")
	flag.Parse()

	reconnected := make(chan string, 4)
	var disconnects int32
	nc, err := nats.Connect(*url,
		nats.Name("failover"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			atomic.AddInt32(&disconnects, 1)
			fmt.Printf("DISCONNECTED %v\n", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { reconnected <- c.ConnectedUrl() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			fmt.Printf("ASYNC_ERROR %v\n", err)
		}),
	)
	if err != nil {
		log.Fatalf("Error connecting to NATS: %v", err)
	}
	defer nc.Close()

	msgs := make(chan *nats.Msg, 1<<16)
	if _, err := nc.ChanSubscribe(*subject, msgs); err != nil {
		log.Fatalf("Error subscribing: %v", err)
	}
	if err := nc.Flush(); err != nil {
		log.Fatalf("Flush: %v", err)
	}
	fmt.Printf("CONNECTED %s\n", nc.ConnectedUrl())
	fmt.Printf("DISCOVERED %s\n", strings.Join(nc.DiscoveredServers(), ","))
	fmt.Println("READY")

	var seqs []string
	deadline := time.After(*timeout)
	sinceReconnect := -1 // -1: not reconnected yet
	rc := 0
loop:
	for {
		select {
		case m := <-msgs:
			seqs = append(seqs, string(m.Data))
			if len(seqs) == *after && sinceReconnect < 0 {
				fmt.Println("TRAFFIC")
			}
			if sinceReconnect >= 0 {
				sinceReconnect++
				if sinceReconnect >= *after {
					break loop
				}
			}
		case u := <-reconnected:
			rc++
			fmt.Printf("RECONNECTED %s\n", u)
			if sinceReconnect < 0 {
				sinceReconnect = 0
			}
		case <-deadline:
			fmt.Printf("TIMEOUT after %v\n", *timeout)
			break loop
		}
	}
	fmt.Printf("SEQS %s\n", strings.Join(seqs, ","))
	fmt.Printf("DONE disconnects=%d reconnects=%s\n", atomic.LoadInt32(&disconnects), strconv.Itoa(rc))
	if rc == 0 {
		os.Exit(1)
	}
}

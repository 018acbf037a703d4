// publisher.go: the seed's publisher (shared/seeds 003), adapted to take its
// server URL, subject and message count from the command line: it publishes
// COUNT messages "Hello NATS #<i>" (the seed's payload, with the number
// written in decimal rather than as a rune) without pausing, then one
// message on SUBJECT.end, flushes and exits.
//
//	publisher -url nats://127.0.0.1:4222 -subject updates -count 10000
//	          [-wait R1,R2] [-size N -headers]
//
// -wait: before publishing, request each readiness subject (see
// subscriber) until it is answered (a 503 no-responders answer means the
// subscriber's interest has not reached this server yet: ask again), so no
// message is published before the subscribers are known here.
// -size N: payloads of N bytes, byte j of message i being (i+j) % 251,
// instead of the seed's text. -headers: each message carries the headers
// X-Seq: <i>, X-Multi: a, X-Multi: b (HPUB).
package main

import (
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
	count := flag.Int("count", 10, "messages to publish")
	wait := flag.String("wait", "", "comma list of readiness subjects to wait for")
	size := flag.Int("size", 0, "payload size (0: the seed's text payload)")
	headers := flag.Bool("headers", false, "send headers with each message")
	timeout := flag.Duration("timeout", 20*time.Second, "bound for waiting for the subscribers")
	flag.Parse()

	// Connect to NATS
	nc, err := nats.Connect(*url, nats.Name("publisher"))
	if err != nil {
		log.Fatalf("Error connecting to NATS: %v", err)
	}
	defer nc.Close()
	log.Println("Publisher connected to NATS.")

	if *wait != "" {
		for _, r := range strings.Split(*wait, ",") {
			waitReady(nc, r, *timeout)
		}
	}

	// Publish messages
	for i := 0; i < *count; i++ {
		m := &nats.Msg{Subject: *subject}
		if *size > 0 {
			m.Data = make([]byte, *size)
			for j := range m.Data {
				m.Data[j] = byte((i + j) % 251)
			}
		} else {
			m.Data = []byte("Hello NATS #" + strconv.Itoa(i))
		}
		if *headers {
			m.Header = nats.Header{}
			m.Header.Set("X-Seq", strconv.Itoa(i))
			m.Header.Add("X-Multi", "a")
			m.Header.Add("X-Multi", "b")
		}
		if err := nc.PublishMsg(m); err != nil {
			fmt.Printf("FAIL publish %d: %v\n", i, err)
			os.Exit(1)
		}
	}
	if err := nc.Publish(*subject+".end", []byte("end")); err != nil {
		fmt.Printf("FAIL publish end: %v\n", err)
		os.Exit(1)
	}
	if err := nc.Flush(); err != nil {
		fmt.Printf("FAIL flush: %v\n", err)
		os.Exit(1)
	}
	if err := nc.LastError(); err != nil {
		fmt.Printf("FAIL async error: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("PUBLISHED %d\n", *count)
}

// waitReady requests subject r until a subscriber answers it.
func waitReady(nc *nats.Conn, r string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		_, err := nc.Request(r, nil, time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			fmt.Printf("FAIL ready %s: no answer within %v: %v\n", r, timeout, err)
			os.Exit(1)
		}
		if err == nats.ErrNoResponders {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

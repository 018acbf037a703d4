// responder: answers requests on SUBJECT (in queue group "svc", as services
// do) with "reply to <request data>", copying the request's X-Req header
// and adding X-Responder: NAME. Also answers READY (default SUBJECT.ready)
// for a requester's readiness barrier (see publisher). Prints "READY" once
// subscribed, "SERVED <n>" when a message on SUBJECT.end arrives, then
// exits 0; exit 1 if none came within -timeout.
//
//	responder -url nats://127.0.0.1:4222 -subject svc -name C
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "server URL")
	subject := flag.String("subject", "svc", "service subject")
	name := flag.String("name", "responder", "value of the X-Responder header")
	ready := flag.String("ready", "", "readiness subject (default SUBJECT.ready)")
	timeout := flag.Duration("timeout", 30*time.Second, "bound for the whole run")
	flag.Parse()
	if *ready == "" {
		*ready = *subject + ".ready"
	}

	nc, err := nats.Connect(*url, nats.Name("responder"))
	if err != nil {
		log.Fatalf("Error connecting to NATS: %v", err)
	}
	defer nc.Close()

	var served int64
	_, err = nc.QueueSubscribe(*subject, "svc", func(m *nats.Msg) {
		r := &nats.Msg{Subject: m.Reply, Header: nats.Header{}, Data: append([]byte("reply to "), m.Data...)}
		r.Header.Set("X-Req", m.Header.Get("X-Req"))
		r.Header.Set("X-Responder", *name)
		if err := nc.PublishMsg(r); err != nil {
			fmt.Printf("FAIL respond: %v\n", err)
			os.Exit(1)
		}
		atomic.AddInt64(&served, 1)
	})
	if err != nil {
		log.Fatalf("Error subscribing: %v", err)
	}
	end := make(chan struct{}, 1)
	if _, err = nc.Subscribe(*subject+".end", func(*nats.Msg) { end <- struct{}{} }); err != nil {
		log.Fatalf("Error subscribing: %v", err)
	}
	if _, err = nc.Subscribe(*ready, func(m *nats.Msg) { m.Respond([]byte("ready")) }); err != nil {
		log.Fatalf("Error subscribing: %v", err)
	}
	if err = nc.Flush(); err != nil {
		log.Fatalf("Flush: %v", err)
	}
	fmt.Println("READY")
	select {
	case <-end:
	case <-time.After(*timeout):
		fmt.Printf("TIMEOUT no end message within %v\n", *timeout)
		os.Exit(1)
	}
	fmt.Printf("SERVED %d\n", atomic.LoadInt64(&served))
}

// requester: COUNT requests to SUBJECT, from -parallel goroutines sharing
// the connection (each one request at a time), each with data "req <i>"
// and the header X-Req: <i>, each answered within -reqtimeout;
// checks every answer is "reply to req <i>" with X-Req: <i>, then
// publishes SUBJECT.end and exits. First waits for READY (default
// SUBJECT.ready) to be answered (see publisher), so that the service's
// interest is known on this server.
//
//	requester -url nats://127.0.0.1:4222 -subject svc -count 1000 [-parallel 8]
//
// Output: "OK <n> responders=<X-Responder values seen>" or "FAIL ...".
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "server URL")
	subject := flag.String("subject", "svc", "service subject")
	count := flag.Int("count", 100, "requests")
	ready := flag.String("ready", "", "readiness subject (default SUBJECT.ready)")
	parallel := flag.Int("parallel", 1, "goroutines making requests")
	reqTimeout := flag.Duration("reqtimeout", 5*time.Second, "bound for one answer")
	flag.Parse()
	if *ready == "" {
		*ready = *subject + ".ready"
	}

	nc, err := nats.Connect(*url, nats.Name("requester"))
	if err != nil {
		log.Fatalf("Error connecting to NATS: %v", err)
	}
	defer nc.Close()

	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := nc.Request(*ready, nil, time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("FAIL ready %s: %v\n", *ready, err)
			os.Exit(1)
		}
		if err == nats.ErrNoResponders {
			time.Sleep(20 * time.Millisecond)
		}
	}

	var mu sync.Mutex
	responders := map[string]int{}
	var failure string
	var wg sync.WaitGroup
	for w := 0; w < *parallel; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < *count; i += *parallel {
				m := &nats.Msg{Subject: *subject, Header: nats.Header{}, Data: []byte("req " + strconv.Itoa(i))}
				m.Header.Set("X-Req", strconv.Itoa(i))
				r, err := nc.RequestMsg(m, *reqTimeout)
				msg := ""
				want := "reply to req " + strconv.Itoa(i)
				if err != nil {
					msg = fmt.Sprintf("request %d: %v", i, err)
				} else if string(r.Data) != want || r.Header.Get("X-Req") != strconv.Itoa(i) {
					msg = fmt.Sprintf("request %d: got %q headers %v, want %q X-Req %d", i, r.Data, r.Header, want, i)
				}
				mu.Lock()
				if msg != "" {
					if failure == "" {
						failure = msg
					}
					mu.Unlock()
					return
				}
				responders[r.Header.Get("X-Responder")]++
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if failure != "" {
		fmt.Printf("FAIL %s\n", failure)
		os.Exit(1)
	}
	if err := nc.Publish(*subject+".end", nil); err != nil {
		fmt.Printf("FAIL publish end: %v\n", err)
		os.Exit(1)
	}
	if err := nc.Flush(); err != nil {
		fmt.Printf("FAIL flush: %v\n", err)
		os.Exit(1)
	}
	var names []string
	for k, v := range responders {
		names = append(names, k+":"+strconv.Itoa(v))
	}
	sort.Strings(names)
	fmt.Printf("OK %d responders=%s\n", *count, strings.Join(names, ","))
}

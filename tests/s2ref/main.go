// s2ref: the Go reference codec (klauspost/compress/s2, Debian's
// golang-github-klauspost-compress-dev) over stdin/stdout, for the
// differential tests in tests/unit/test_s2_ref.py and the codec bench.
//
//	s2ref enc-block fast|better|best|snappy      < plain  > block
//	s2ref enc-stream none|fast|better|best|snappy [flush] < plain > stream
//	s2ref dec-block                              < block  > plain
//	s2ref dec-stream                             < stream > plain
//	s2ref bench LEVEL FLUSH FILE [SECONDS]       JSON line: MB/s and ratio
//	s2ref diff TOOL SEED COUNT                   random differential run
//
// enc-stream uses the writer options nats-server uses for the level
// (server.go:s2WriterOptions): fast is s2.NewWriter's defaults; none,
// better and best add WriterConcurrency(1) and the level option. With a
// flush size, the input is written as one complete stream per flush
// (Reset, Write, Close), the way nats-server's flushOutbound does.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/klauspost/compress/s2"
)

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "s2ref: "+f+"\n", a...)
	os.Exit(1)
}

func encBlock(level string, src []byte) []byte {
	switch level {
	case "fast":
		return s2.Encode(nil, src)
	case "better":
		return s2.EncodeBetter(nil, src)
	case "best":
		return s2.EncodeBest(nil, src)
	case "snappy":
		return s2.EncodeSnappy(nil, src)
	}
	die("unknown level %q", level)
	return nil
}

func writerOptions(level string) []s2.WriterOption {
	switch level {
	case "none":
		return []s2.WriterOption{s2.WriterConcurrency(1), s2.WriterUncompressed()}
	case "fast":
		return nil
	case "better":
		return []s2.WriterOption{s2.WriterConcurrency(1), s2.WriterBetterCompression()}
	case "best":
		return []s2.WriterOption{s2.WriterConcurrency(1), s2.WriterBestCompression()}
	case "snappy":
		return []s2.WriterOption{s2.WriterConcurrency(1), s2.WriterSnappyCompat()}
	}
	die("unknown level %q", level)
	return nil
}

// encStream writes src as one stream per flush bytes (all of it if 0).
func encStream(w *s2.Writer, out *bytes.Buffer, src []byte, flush int) {
	if flush <= 0 {
		flush = len(src)
	}
	for len(src) > 0 {
		n := flush
		if n > len(src) {
			n = len(src)
		}
		w.Reset(out)
		if _, err := w.Write(src[:n]); err != nil {
			die("write: %v", err)
		}
		if err := w.Close(); err != nil {
			die("close: %v", err)
		}
		src = src[n:]
	}
}

func decStream(src []byte) ([]byte, error) {
	return io.ReadAll(s2.NewReader(bytes.NewReader(src)))
}

func readAll() []byte {
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		die("read: %v", err)
	}
	return b
}

func bench(level string, flush int, file string, secs float64) {
	src, err := os.ReadFile(file)
	if err != nil {
		die("%v", err)
	}
	w := s2.NewWriter(nil, writerOptions(level)...)
	var out bytes.Buffer
	encStream(w, &out, src, flush)
	wire := append([]byte(nil), out.Bytes()...)
	// Encode: as many whole passes as fit in secs.
	start, passes := time.Now(), 0
	for time.Since(start).Seconds() < secs || passes == 0 {
		out.Reset()
		encStream(w, &out, src, flush)
		passes++
	}
	encMBs := float64(len(src)*passes) / time.Since(start).Seconds() / 1e6
	// Decode: one reader reused, Reset per pass, as a route's read loop does.
	r := s2.NewReader(nil)
	buf := make([]byte, 64<<10)
	start, passes = time.Now(), 0
	for time.Since(start).Seconds() < secs || passes == 0 {
		r.Reset(bytes.NewReader(wire))
		total := 0
		for {
			n, err := r.Read(buf)
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				die("decode: %v", err)
			}
		}
		if total != len(src) {
			die("decode: %d bytes, want %d", total, len(src))
		}
		passes++
	}
	decMBs := float64(len(src)*passes) / time.Since(start).Seconds() / 1e6
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"impl": "go", "level": level, "flush": flush, "in": len(src), "out": len(wire),
		"ratio": float64(len(src)) / float64(len(wire)), "enc_mbs": encMBs, "dec_mbs": decMBs,
	})
}

// genInput makes one random input: random bytes, runs, text with repeats,
// NATS-like protocol lines, or a mix; sizes up to ~300 KiB, biased small.
func genInput(rng *rand.Rand) []byte {
	n := rng.Intn(1 << uint(rng.Intn(19)+1))
	b := make([]byte, 0, n)
	words := []string{"PUB ", "MSG ", "RMSG $G ", "orders.", "eu.", "\r\n", "{\"id\":", "\"name\":\"", "\"}", "HPUB ", "+OK\r\n"}
	for len(b) < n {
		switch rng.Intn(5) {
		case 0: // random bytes
			k := rng.Intn(64) + 1
			for i := 0; i < k; i++ {
				b = append(b, byte(rng.Intn(256)))
			}
		case 1: // a run of one byte
			c := byte(rng.Intn(256))
			for i := rng.Intn(300) + 1; i > 0; i-- {
				b = append(b, c)
			}
		case 2: // a word
			b = append(b, words[rng.Intn(len(words))]...)
			b = strconv.AppendInt(b, int64(rng.Intn(100000)), 10)
		case 3, 4: // copy of earlier data, near or far
			if len(b) > 4 {
				off := rng.Intn(len(b)) + 1
				if rng.Intn(2) == 0 && off > 64 {
					off = rng.Intn(64) + 1
				}
				k := rng.Intn(200) + 4
				for i := 0; i < k; i++ {
					b = append(b, b[len(b)-off])
				}
			}
		}
	}
	return b[:n]
}

// tool speaks tool_s2's batch protocol: request [op u8][level u8][len u32 LE]
// [data], reply [status i32 LE][len u32 LE][data]; status < 0 is an error.
type tool struct {
	w *bufio.Writer
	r *bufio.Reader
}

func (t *tool) call(op, level byte, data []byte) (int32, []byte) {
	var h [6]byte
	h[0], h[1] = op, level
	binary.LittleEndian.PutUint32(h[2:], uint32(len(data)))
	t.w.Write(h[:])
	t.w.Write(data)
	if err := t.w.Flush(); err != nil {
		die("tool write: %v", err)
	}
	var rh [8]byte
	if _, err := io.ReadFull(t.r, rh[:]); err != nil {
		die("tool read: %v", err)
	}
	st := int32(binary.LittleEndian.Uint32(rh[:4]))
	out := make([]byte, binary.LittleEndian.Uint32(rh[4:]))
	if _, err := io.ReadFull(t.r, out); err != nil {
		die("tool read: %v", err)
	}
	return st, out
}

// diff: for COUNT random inputs, gannet encodes (block and stream, each
// level) and Go decodes; Go encodes (each level) and gannet decodes; every
// result must be the input again. Then random corruptions of valid
// encodings: gannet and Go must agree on accept/reject, and on the bytes
// when both accept (a stream Go accepts must decode the same).
func diff(toolPath string, seed int64, count int) {
	cmd := exec.Command(toolPath, "batch")
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		die("start %s: %v", toolPath, err)
	}
	t := &tool{bufio.NewWriter(in), bufio.NewReader(outp)}
	rng := rand.New(rand.NewSource(seed))
	fail := 0
	check := func(ok bool, f string, a ...interface{}) {
		if !ok {
			fail++
			fmt.Fprintf(os.Stderr, "diff: "+f+"\n", a...)
			if fail > 10 {
				die("too many failures")
			}
		}
	}
	levels := []string{"none", "fast", "better", "best"}
	stats := map[string]int{}
	for i := 0; i < count; i++ {
		src := genInput(rng)
		for lv := byte(1); lv <= 3; lv++ {
			st, blk := t.call('B', lv, src)
			check(st >= 0, "#%d gannet enc-block %s failed: %d", i, levels[lv], st)
			got, err := s2.Decode(nil, blk)
			check(err == nil && bytes.Equal(got, src), "#%d go dec of gannet %s block (len %d): %v", i, levels[lv], len(src), err)
		}
		for lv := byte(0); lv <= 3; lv++ {
			st, strm := t.call('S', lv, src)
			check(st >= 0, "#%d gannet enc-stream %s failed: %d", i, levels[lv], st)
			got, err := decStream(strm)
			check(err == nil && bytes.Equal(got, src), "#%d go dec of gannet %s stream (len %d): %v", i, levels[lv], len(src), err)
		}
		for _, lv := range []string{"fast", "better", "best", "snappy"} {
			blk := encBlock(lv, src)
			st, got := t.call('b', 0, blk)
			check(st >= 0 && bytes.Equal(got, src), "#%d gannet dec of go %s block (len %d): %d", i, lv, len(src), st)
			var out bytes.Buffer
			encStream(s2.NewWriter(nil, writerOptions(lv)...), &out, src, 0)
			st, got = t.call('s', 0, out.Bytes())
			check(st >= 0 && bytes.Equal(got, src), "#%d gannet dec of go %s stream (len %d): %d", i, lv, len(src), st)
			// Corrupt the block: flip, truncate or extend it.
			if len(blk) > 0 {
				bad := append([]byte(nil), blk...)
				switch rng.Intn(3) {
				case 0:
					bad[rng.Intn(len(bad))] ^= byte(1 << uint(rng.Intn(8)))
				case 1:
					bad = bad[:rng.Intn(len(bad))]
				case 2:
					bad = append(bad, byte(rng.Intn(256)))
				}
				want, gerr := s2.Decode(nil, bad)
				st, got := t.call('b', 0, bad)
				check((gerr == nil) == (st >= 0), "#%d corrupt %s block: go err %v, gannet %d", i, lv, gerr, st)
				if gerr == nil && st >= 0 {
					check(bytes.Equal(want, got), "#%d corrupt %s block decodes differently", i, lv)
				}
				if gerr == nil {
					stats["corrupt-accepted"]++
				} else {
					stats["corrupt-rejected"]++
				}
			}
		}
	}
	in.Close()
	cmd.Wait()
	fmt.Printf("diff: %d inputs, %d failures, corrupt blocks accepted/rejected by both: %d/%d\n",
		count, fail, stats["corrupt-accepted"], stats["corrupt-rejected"])
	if fail > 0 {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 2 {
		die("usage: s2ref enc-block|enc-stream|dec-block|dec-stream|bench|diff ...")
	}
	arg := func(i int) string {
		if len(os.Args) <= i {
			die("missing argument %d for %s", i, os.Args[1])
		}
		return os.Args[i]
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	switch os.Args[1] {
	case "enc-block":
		out.Write(encBlock(arg(2), readAll()))
	case "enc-stream":
		flush := 0
		if len(os.Args) > 3 {
			flush, _ = strconv.Atoi(os.Args[3])
		}
		var b bytes.Buffer
		encStream(s2.NewWriter(nil, writerOptions(arg(2))...), &b, readAll(), flush)
		out.Write(b.Bytes())
	case "dec-block":
		b, err := s2.Decode(nil, readAll())
		if err != nil {
			die("dec-block: %v", err)
		}
		out.Write(b)
	case "dec-stream":
		b, err := decStream(readAll())
		if err != nil {
			die("dec-stream: %v", err)
		}
		out.Write(b)
	case "bench":
		flush, _ := strconv.Atoi(arg(3))
		secs := 1.0
		if len(os.Args) > 5 {
			secs, _ = strconv.ParseFloat(os.Args[5], 64)
		}
		bench(arg(2), flush, arg(4), secs)
	case "diff":
		seed, _ := strconv.ParseInt(arg(3), 10, 64)
		count, _ := strconv.Atoi(arg(4))
		diff(arg(2), seed, count)
	default:
		die("unknown mode %q", os.Args[1])
	}
}

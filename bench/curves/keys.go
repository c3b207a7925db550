package main

import (
	"bufio"
	"os"
	"strconv"
	"time"
)

func init() {
	// curves -gen-keys K: the key-curve input on standard output.
	if len(os.Args) == 3 && os.Args[1] == "-gen-keys" {
		k, err := strconv.Atoi(os.Args[2])
		if err != nil || k < 1 {
			os.Exit(2)
		}
		if err := genKeys(k); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// genKeys writes 2k authentication failures (invalid keys on a path that
// differs per round) from k distinct client IPs, every IP twice, all within
// 4 minutes: at the end, every per-IP rule holds k groups at once.
func genKeys(k int) error {
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	start := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	step := 4 * time.Minute / time.Duration(2*k)
	var b []byte
	for i := 0; i < 2*k; i++ {
		n := i % k
		ip := "10." + strconv.Itoa(n>>16&0xff) + "." + strconv.Itoa(n>>8&0xff) + "." + strconv.Itoa(n&0xff)
		ts := start.Add(time.Duration(i) * step).Format("2006-01-02T15:04:05.000000")
		path := "/mcp"
		if i >= k {
			path = "/mcp/tools/call"
		}
		b = b[:0]
		b = append(b, `{"event_type":"authentication_failure","severity":"medium","message":"Invalid API key (hash: `...)
		b = strconv.AppendInt(b, int64(i%7919), 16)
		b = append(b, `)","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","details":{"failure_type":"invalid_key","client_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","method":"POST","path":"`...)
		b = append(b, path...)
		b = append(b, `","timestamp":"`...)
		b = append(b, ts...)
		b = append(b, `"},"session_id":null,"tool_name":null,"timestamp":"`...)
		b = append(b, ts...)
		b = append(b, "\"}\n"...)
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return w.Flush()
}

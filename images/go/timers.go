// time.Sleep and a ticker: the runtime's timers ride on futex and epoll timeouts.
package main

import (
	"fmt"
	"time"
)

func main() {
	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	t := time.NewTicker(10 * time.Millisecond)
	n := 0
	for range t.C {
		n++
		if n == 5 {
			break
		}
	}
	t.Stop()
	el := time.Since(start)
	fmt.Println("ticks", n, "elapsed ok:", el >= 90*time.Millisecond && el < 2*time.Second)
}

// A Go guest for checkpoint/restore: goroutines ping-ponging over
// channels, timers (the runtime's netpoller: epoll, and its wake-up
// eventfd or pipe), several runtime threads. Its output does not depend on
// timing: a run checkpointed and restored prints what an uninterrupted one does.
//   go-ckpt [STEPS]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	steps := 100
	if len(os.Args) > 1 {
		steps, _ = strconv.Atoi(os.Args[1])
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			time.Sleep(10 * time.Millisecond)
			pong <- v*v + 1
		}
		close(pong)
	}()
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	sum := 0
	for i := 0; i < steps; i++ {
		ping <- i
		v := <-pong
		<-ticker.C
		sum = sum*31 + v
		fmt.Printf("step %d got %d sum %d\n", i, v, sum)
	}
	close(ping)
	<-pong
	fmt.Println("done")
}

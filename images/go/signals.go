// os/signal catches SIGTERM sent by the process to itself.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case s := <-c:
		fmt.Println("caught", s)
	case <-time.After(5 * time.Second):
		fmt.Println("timed out")
		os.Exit(1)
	}
}

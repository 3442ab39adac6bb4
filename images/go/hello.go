// The smallest Go guest: the runtime's threads, signals and timers start
// before main runs.
package main

import "fmt"

func main() { fmt.Println("hello from Go") }

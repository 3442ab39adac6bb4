// 100 goroutines pass values over channels; the results are summed in order.
package main

import (
	"fmt"
	"sync"
)

func main() {
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			sum := 0
			for k := 0; k <= n*1000; k++ {
				sum += k % 7
			}
			results <- sum
		}(i)
	}
	wg.Wait()
	close(results)
	total := 0
	for r := range results {
		total += r
	}
	fmt.Println("total", total)
}

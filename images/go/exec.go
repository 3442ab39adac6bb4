// os/exec runs a child (clone(CLONE_VM|CLONE_VFORK) + execve in Go's runtime)
// and reads its output through a pipe.
package main

import (
	"fmt"
	"os"
	"os/exec"
)

func main() {
	out, err := exec.Command("/bin/busybox", "echo", "child says hi").Output()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("got %q\n", out)
	err = exec.Command("/bin/busybox", "false").Run()
	fmt.Println("false:", err)
}

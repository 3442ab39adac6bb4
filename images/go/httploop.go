// net/http over the sandbox loopback: a server and a client in one program,
// then a client in another process (this program run again as `get URL`),
// net.Listen("unix") with a client dialing it, and net.Interfaces' lo.
// Prints only fixed text.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		resp, err := http.Get(os.Args[2])
		if err != nil {
			fmt.Println("get:", err)
			os.Exit(1)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(b))
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "hello %s, you sent %d bytes", r.URL.Query().Get("name"), len(body))
	})
	go http.Serve(ln, mux)
	url := "http://" + ln.Addr().String() + "/hello?name=sandbox"
	for i := 0; i < 3; i++ {
		resp, err := http.Post(url, "text/plain", strings.NewReader(strings.Repeat("x", 1000*(i+1))))
		if err != nil {
			fmt.Println("post:", err)
			os.Exit(1)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(b))
	}

	// A client in another process.
	out, err := exec.Command(os.Args[0], "get", strings.Replace(url, "sandbox", "another+process", 1)).CombinedOutput()
	if err != nil {
		fmt.Println("child:", err)
	}
	fmt.Print("from a child: ", string(out))

	path := fmt.Sprintf("%s/httploop-%d.sock", os.TempDir(), os.Getpid())
	ul, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println("listen unix:", err)
		os.Exit(1)
	}
	defer os.Remove(path)
	go func() {
		c, err := ul.Accept()
		if err != nil {
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "echo: %s", line)
		c.Close()
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial unix:", err)
		os.Exit(1)
	}
	fmt.Fprintf(c, "over a unix socket\n")
	reply, _ := io.ReadAll(c)
	fmt.Print(string(reply))

	// net.Interfaces reads an RTM_GETLINK dump, Addrs an RTM_GETADDR one.
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Println("interfaces:", err)
		os.Exit(1)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			continue
		}
		addrs, _ := i.Addrs()
		fmt.Println(i.Index, i.Name, i.MTU, i.Flags, addrs)
	}
}

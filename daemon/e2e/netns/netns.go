// Package netns makes private network namespaces: for Chromium in the
// browser tests and the bench's browser scenarios, and for the discover
// test's multicast. Each has lo and a veth pair whose two ends both stay
// inside, so WebRTC media and WS-Discovery never touch the machine's real
// interfaces and parallel runs cannot clash. With lo alone
// Chromium considers itself offline and gathers no ICE candidates. It needs
// Linux, root and ip(8).
package netns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// commandTimeout bounds each ip command.
const commandTimeout = 10 * time.Second

// ip runs ip(8) with args, bounded in time.
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Link is one end of the veth pair: its name and its address with prefix.
type Link struct{ Name, Addr string }

// BrowserVeth is the pair Chromium's namespaces get.
func BrowserVeth() [2]Link {
	return [2]Link{{Name: "edgecam0", Addr: "10.231.7.1/24"}, {Name: "edgecam1", Addr: "10.231.7.2/24"}}
}

// Create creates namespace name with lo and the veth pair up, then runs the
// ip commands of setup inside it (a multicast route, say). The pair's names
// and addresses are private to the namespace. On failure it deletes what it
// made.
func Create(name string, veth [2]Link, setup ...[]string) error {
	if err := ip("netns", "add", name); err != nil {
		return err
	}
	a, b := veth[0], veth[1]
	cmds := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", a.Name, "type", "veth", "peer", "name", b.Name},
		{"addr", "add", a.Addr, "dev", a.Name},
		{"addr", "add", b.Addr, "dev", b.Name},
		// No IPv6 link-local address: its duplicate address detection
		// ends a second after the link is up, and Chromium takes that
		// address change for a network change and fails the requests in
		// flight with ERR_NETWORK_CHANGED.
		{"link", "set", a.Name, "addrgenmode", "none"},
		{"link", "set", b.Name, "addrgenmode", "none"},
		{"link", "set", a.Name, "up"},
		{"link", "set", b.Name, "up"},
	}
	for _, args := range append(cmds, setup...) {
		if err := ip(append([]string{"-n", name}, args...)...); err != nil {
			_, _ = Delete(name)
			return err
		}
	}
	return nil
}

// Delete ends whatever still runs in namespace name (all of it started by
// the caller, who made the namespace for itself) and deletes it. It returns
// the processes it had to kill.
func Delete(name string) (killed []int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				killed = append(killed, pid)
			}
		}
	}
	return killed, ip("netns", "delete", name)
}

// Command returns a command that runs argv inside namespace name. ip netns
// exec replaces itself with argv, so signals to the command reach argv.
func Command(ctx context.Context, name string, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", name}, argv...)...)
}

// Package netns makes the private network namespaces that Chromium runs in
// for the browser tests and the bench's browser scenarios: lo and a veth
// pair whose two ends both stay inside, so WebRTC media never touches the
// machine's real interfaces and parallel runs cannot clash. With lo alone
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

// Create creates namespace name with lo and a veth pair up. On failure it
// deletes what it made.
func Create(name string) error {
	if err := ip("netns", "add", name); err != nil {
		return err
	}
	// The pair's names and addresses are private to the namespace.
	a, b := "edgecam0", "edgecam1"
	for _, args := range [][]string{
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "link", "add", a, "type", "veth", "peer", "name", b},
		{"-n", name, "addr", "add", "10.231.7.1/24", "dev", a},
		{"-n", name, "addr", "add", "10.231.7.2/24", "dev", b},
		{"-n", name, "link", "set", a, "up"},
		{"-n", name, "link", "set", b, "up"},
	} {
		if err := ip(args...); err != nil {
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

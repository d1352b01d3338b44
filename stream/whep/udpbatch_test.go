package whep

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// batchPair is a batchConn and a plain receiving socket on loopback.
func batchPair(t *testing.T) (*batchConn, *net.UDPConn, netip.AddrPort) {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	uc, rx := listen(), listen()
	raw, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return &batchConn{UDPConn: uc, raw: raw, b: newBatches()}, rx, rx.LocalAddr().(*net.UDPAddr).AddrPort()
}

func receive(t *testing.T, rx *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 65536)
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < n {
		k, _, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

// An access unit's packets written while the viewer's batch is open arrive
// as the same datagrams, in order, whatever their sizes, with GSO and
// without; nothing leaves before the batch is sent.
func TestBatchDeliversEveryPacketInOrder(t *testing.T) {
	// Runs GSO can take (equal sizes, a shorter last one) mixed with
	// sizes that break them, and more than one GSO send's worth.
	var sizes []int
	for i := 0; i < 70; i++ {
		sizes = append(sizes, 1228)
	}
	sizes = append(sizes, 700, 1228, 1228, 90, 1300, 1228, 20)
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) {
			conn, rx, addr := batchPair(t)
			conn.noGSO.Store(!gso)
			bt := conn.b.add(addr)
			conn.b.begin(bt)
			var want [][]byte
			for i, n := range sizes {
				p := bytes.Repeat([]byte{byte(i)}, n)
				want = append(want, p)
				if _, err := conn.WriteToAddrPort(p, addr); err != nil {
					t.Fatal(err)
				}
			}
			_ = rx.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, _, err := rx.ReadFromUDPAddrPort(make([]byte, 2000)); err == nil {
				t.Fatal("a packet left before the batch was sent")
			}
			conn.b.send(bt)
			got := receive(t, rx, len(want))
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("datagram %d: %d bytes of %d, want %d bytes of %d", i, len(got[i]), got[i][0], len(want[i]), want[i][0])
				}
			}
			conn.b.remove(bt)
			// Linux has had UDP GSO since 4.18: a refusal here means the
			// batch was built wrong, not that the kernel lacks it.
			if gso && conn.noGSO.Load() {
				t.Error("the kernel refused the GSO send; the batch went packet by packet")
			}
		})
	}
}

// Writes to other addresses, and to a viewer whose batch is not open, go
// out at once.
func TestWritesOutsideAnOpenBatchAreNotHeld(t *testing.T) {
	conn, rx, addr := batchPair(t)
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	bt := conn.b.add(addr)
	if _, err := conn.WriteToAddrPort([]byte("stun"), addr); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, rx, 1); string(got[0]) != "stun" {
		t.Fatalf("got %q", got[0])
	}
	conn.b.begin(bt)
	if _, err := conn.WriteTo([]byte("other"), other.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, other, 1); string(got[0]) != "other" {
		t.Fatalf("got %q", got[0])
	}
	conn.b.send(bt)
	conn.b.remove(bt)
	if _, err := conn.WriteToAddrPort([]byte("after"), addr); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, rx, 1); string(got[0]) != "after" {
		t.Fatalf("got %q after the batch was removed", got[0])
	}
}

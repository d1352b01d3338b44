package events

import (
	"testing"
	"time"
)

func TestEverySubscriberGetsEveryEventInOrder(t *testing.T) {
	b := NewBus()
	a, cancelA := b.Subscribe()
	defer cancelA()
	c, cancelC := b.Subscribe()
	defer cancelC()
	b.Publish("camera", map[string]string{"camera": "press-1", "event": "offline"})
	b.Publish("cameras", []int{1, 2})
	for _, ch := range []<-chan Event{a, c} {
		for _, want := range []Event{
			{"camera", []byte(`{"camera":"press-1","event":"offline"}`)},
			{"cameras", []byte(`[1,2]`)},
		} {
			select {
			case got := <-ch:
				if got.Name != want.Name || string(got.Data) != string(want.Data) {
					t.Fatalf("got %s %s, want %s %s", got.Name, got.Data, want.Name, want.Data)
				}
			case <-time.After(time.Second):
				t.Fatal("event not delivered")
			}
		}
	}
}

func TestSlowSubscriberIsDroppedWithoutBlockingOthers(t *testing.T) {
	b := NewBus()
	slow, cancelSlow := b.Subscribe()
	defer cancelSlow()
	fast, cancelFast := b.Subscribe()
	defer cancelFast()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3*queueLen; i++ {
			b.Publish("n", i)
		}
	}()
	got := 0
	for got < 3*queueLen {
		select {
		case <-fast:
			got++
		case <-time.After(2 * time.Second):
			t.Fatalf("the reading subscriber got %d of %d events: the slow one held it up", got, 3*queueLen)
		}
	}
	<-done
	n := 0
	for range slow {
		n++
	}
	if n > queueLen {
		t.Fatalf("the subscriber that never read got %d events queued, want at most %d before being dropped", n, queueLen)
	}
}

func TestJoinedAndListened(t *testing.T) {
	b := NewBus()
	if b.Listened() {
		t.Fatal("a new bus is listened to")
	}
	_, cancel := b.Subscribe()
	select {
	case <-b.Joined():
	default:
		t.Fatal("Joined not signalled by a subscriber")
	}
	if !b.Listened() {
		t.Fatal("not listened to with a subscriber")
	}
	cancel()
	cancel() // twice is harmless
	if b.Listened() {
		t.Fatal("listened to after the only subscriber left")
	}
}

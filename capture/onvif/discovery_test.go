package onvif

import (
	"net"
	"strings"
	"testing"
)

// These read the machine's interfaces and send nothing: probing itself is
// tested inside a network namespace (cmd/edgecam).

func TestInterfacesProbeLoopbackOnlyWhenNamed(t *testing.T) {
	lo, err := Interfaces("lo")
	if err != nil || len(lo) != 1 || lo[0].IP.String() != "127.0.0.1" {
		t.Fatalf("named lo: %v, %v", lo, err)
	}
	all, err := Interfaces("")
	for _, ifc := range all {
		if ifc.net.Flags&net.FlagLoopback != 0 || ifc.net.Flags&net.FlagMulticast == 0 || !ifc.IP.Is4() {
			t.Errorf("%s was chosen without being named", ifc.Name)
		}
	}
	if err != nil && !strings.Contains(err.Error(), "--interface") {
		t.Errorf("no interface, and the error does not say what to do: %v", err)
	}
	if _, err := Interfaces("nosuch0"); err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("an unknown interface: %v", err)
	}
}

func TestMergeFoldsAnswersOfOneEndpoint(t *testing.T) {
	got := merge([]Match{
		{Endpoint: "urn:uuid:b", XAddrs: []string{"http://10.0.0.10/onvif/device_service"}, Interface: "eth0"},
		{Endpoint: "urn:uuid:a", XAddrs: []string{"http://10.0.0.9/onvif/device_service"}, Interface: "eth0"},
		{Endpoint: "urn:uuid:b", XAddrs: []string{"http://10.0.0.10/onvif/device_service", "http://192.168.0.10/onvif/device_service"}, Interface: "eth1"},
	})
	if len(got) != 2 || got[0].Endpoint != "urn:uuid:a" || len(got[1].XAddrs) != 2 || got[1].Interface != "eth0" {
		t.Fatalf("%+v", got)
	}
}

// Package fault holds edgecam's fault tests (build tag fault): cameras
// killed, frozen, garbled or lossy while another camera's viewer must never
// stall, and the daemon must recover by itself.
package fault

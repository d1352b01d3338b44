package promtext

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
)

// goSeries maps runtime/metrics names to the series the official client
// library exports for them, so existing dashboards keep working.
var goSeries = []struct {
	sample, name, typ, help string
}{
	{"/sched/gomaxprocs:threads", "go_sched_gomaxprocs_threads", Gauge, "The current runtime.GOMAXPROCS setting."},
	{"/memory/classes/heap/objects:bytes", "go_memstats_alloc_bytes", Gauge, "Number of bytes allocated in heap and currently in use."},
	{"/gc/heap/allocs:bytes", "go_memstats_alloc_bytes_total", Counter, "Total number of bytes allocated in heap until now."},
	{"/memory/classes/total:bytes", "go_memstats_sys_bytes", Gauge, "Number of bytes obtained from system."},
	{"/gc/heap/goal:bytes", "go_memstats_next_gc_bytes", Gauge, "Number of heap bytes when next garbage collection will take place."},
	{"/gc/gogc:percent", "go_gc_gogc_percent", Gauge, "Heap size target percentage configured by GOGC."},
	{"/gc/gomemlimit:bytes", "go_gc_gomemlimit_bytes", Gauge, "Go runtime memory limit configured by GOMEMLIMIT."},
}

// WriteGo writes the go_* series: goroutines, threads, heap and GC figures.
func WriteGo(w *Writer) {
	samples := make([]metrics.Sample, len(goSeries))
	for i, s := range goSeries {
		samples[i].Name = s.sample
	}
	metrics.Read(samples)
	for i, s := range goSeries {
		var v float64
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			v = float64(samples[i].Value.Uint64())
		case metrics.KindFloat64:
			v = samples[i].Value.Float64()
		default:
			continue // unknown to this Go version
		}
		w.One(s.name, s.typ, s.help, v)
	}
	// runtime/metrics counts the runtime's own goroutines too; dashboards
	// and edgecam-bench expect runtime.NumGoroutine's figure.
	w.One("go_goroutines", Gauge, "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	threads, _ := runtime.ThreadCreateProfile(nil)
	w.One("go_threads", Gauge, "Number of OS threads created.", float64(threads))
	w.One("go_info", Gauge, "Information about the Go environment.", 1, "version", runtime.Version())
}

// WriteProcess writes the process_* series from /proc: CPU time, memory,
// open files and start time. Where /proc is missing it writes nothing.
func WriteProcess(w *Writer) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing one.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 22 {
		return
	}
	field := func(n int) float64 { // n as numbered in proc(5)
		v, _ := strconv.ParseFloat(f[n-3], 64)
		return v
	}
	const ticks = 100 // USER_HZ, 100 on every Linux architecture
	w.One("process_cpu_seconds_total", Counter, "Total user and system CPU time spent in seconds.", (field(14)+field(15))/ticks)
	w.One("process_virtual_memory_bytes", Gauge, "Virtual memory size in bytes.", field(23))
	w.One("process_resident_memory_bytes", Gauge, "Resident memory size in bytes.", field(24)*float64(os.Getpagesize()))
	if boot := bootTime(); boot > 0 {
		w.One("process_start_time_seconds", Gauge, "Start time of the process since unix epoch in seconds.", boot+field(22)/ticks)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.One("process_open_fds", Gauge, "Number of open file descriptors.", float64(len(fds)))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		w.One("process_max_fds", Gauge, "Maximum number of open file descriptors.", float64(lim.Cur))
	}
}

// bootTime is when the machine booted, in Unix seconds, from /proc/stat.
func bootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

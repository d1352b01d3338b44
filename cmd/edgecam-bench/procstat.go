package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture edgecam is built for.
const clockTicks = 100

// cpuTicks returns utime+stime of pid, in clock ticks, and its parent pid.
func cpuTicks(pid int) (ticks int64, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name may contain spaces; fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, ppid, true
}

// rssMB returns VmRSS of pid in MB.
func rssMB(pid int) float64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// pssMB returns the proportional set size of pid in MB: its resident
// memory with each shared page divided among the processes that map it,
// so that the decoders' shared libraries are not counted once each.
func pssMB(pid int) float64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// procTicks returns utime+stime and the parent of every process, by pid.
func procTicks() (ticks map[int]int64, parent map[int]int) {
	ticks, parent = map[int]int64{}, map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if t, pp, ok := cpuTicks(p); ok {
			ticks[p], parent[p] = t, pp
		}
	}
	return ticks, parent
}

// childTicks returns utime+stime of every child process of pid (the
// daemon's ffmpeg decoders), by pid.
func childTicks(pid int) map[int]int64 {
	out := map[int]int64{}
	ticks, parent := procTicks()
	for p, t := range ticks {
		if parent[p] == pid {
			out[p] = t
		}
	}
	return out
}

// treeTicks returns utime+stime of pid and of all its descendants (a
// browser's renderer, GPU and utility processes), by pid.
func treeTicks(pid int) map[int]int64 {
	out := map[int]int64{}
	ticks, parent := procTicks()
	for p, t := range ticks {
		// Walk up towards init; pid 1 (or 0, unknown) ends every chain.
		for a := p; a > 1; a = parent[a] {
			if a == pid {
				out[p] = t
				break
			}
		}
	}
	return out
}

// childDelta is the CPU ticks children spent between two childTicks
// snapshots; a child that started in between counts in full.
func childDelta(before, after map[int]int64) int64 {
	var d int64
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

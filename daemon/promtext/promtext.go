// Package promtext writes metrics in the Prometheus text exposition format
// (version 0.0.4), with the standard go_* and process_* series.
//
// edgecam's metrics are a few dozen gauges and counters read at scrape
// time. The official client library, with what it pulls in (protobuf,
// client_model, expfmt, procfs), would grow a binary whose mapped pages are
// most of the daemon's resident memory on a small board; its cost is
// measured in docs/performance.md. This package could go if that library's
// footprint shrank to a few hundred kilobytes.
package promtext

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// ContentType is the media type of what a Writer writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metric types.
const (
	Gauge   = "gauge"
	Counter = "counter"
	Summary = "summary"
)

// Writer writes metric families and their samples. Errors are sticky and
// returned by Flush.
type Writer struct {
	w *bufio.Writer
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// Family starts a metric family: its samples follow, written with Sample.
func (w *Writer) Family(name, typ, help string) {
	w.w.WriteString("# HELP ")
	w.w.WriteString(name)
	w.w.WriteByte(' ')
	w.w.WriteString(helpEscaper.Replace(help))
	w.w.WriteString("\n# TYPE ")
	w.w.WriteString(name)
	w.w.WriteByte(' ')
	w.w.WriteString(typ)
	w.w.WriteByte('\n')
}

// Sample writes one sample of the current family. labels are name, value
// pairs; a trailing odd name is ignored.
func (w *Writer) Sample(name string, v float64, labels ...string) {
	w.w.WriteString(name)
	if len(labels) >= 2 {
		w.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.w.WriteByte(',')
			}
			w.w.WriteString(labels[i])
			w.w.WriteString(`="`)
			w.w.WriteString(labelEscaper.Replace(labels[i+1]))
			w.w.WriteByte('"')
		}
		w.w.WriteByte('}')
	}
	w.w.WriteByte(' ')
	w.w.WriteString(formatValue(v))
	w.w.WriteByte('\n')
}

// One writes a family of a single sample.
func (w *Writer) One(name, typ, help string, v float64, labels ...string) {
	w.Family(name, typ, help)
	w.Sample(name, v, labels...)
}

// Flush writes what is buffered and returns the first error.
func (w *Writer) Flush() error { return w.w.Flush() }

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Families gathers samples in any order and writes them grouped by family,
// as the format requires, families in the order they were first added.
type Families struct {
	order  []*family
	byName map[string]*family
}

type family struct {
	name, typ, help string
	samples         []sample
}

type sample struct {
	suffix string // appended to the family's name: _sum, _count
	v      float64
	labels []string
}

// Add adds a sample to the family name, creating it with typ and help.
func (f *Families) Add(name, typ, help string, v float64, labels ...string) {
	fam := f.byName[name]
	if fam == nil {
		if f.byName == nil {
			f.byName = make(map[string]*family)
		}
		fam = &family{name: name, typ: typ, help: help}
		f.byName[name] = fam
		f.order = append(f.order, fam)
	}
	fam.samples = append(fam.samples, sample{v: v, labels: labels})
}

// AddSummary adds a summary without quantiles: name_sum and name_count.
func (f *Families) AddSummary(name, help string, sum float64, count uint64, labels ...string) {
	f.Add(name, Summary, help, sum, labels...)
	fam := f.byName[name]
	fam.samples[len(fam.samples)-1].suffix = "_sum"
	fam.samples = append(fam.samples, sample{suffix: "_count", v: float64(count), labels: labels})
}

// Write writes every family and its samples to w.
func (f *Families) Write(w *Writer) {
	for _, fam := range f.order {
		w.Family(fam.name, fam.typ, fam.help)
		for _, s := range fam.samples {
			w.Sample(fam.name+s.suffix, s.v, s.labels...)
		}
	}
}

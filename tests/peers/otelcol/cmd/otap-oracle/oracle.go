package main

// The oracle proper: the OTel-Arrow producer (as the Collector's exporter runs it) over a
// sequence of trace batches, and the Go consumer (as the Collector's receiver runs it) decoding
// the BatchArrowRecords it made, plus the files both are written to.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	arrowconfig "github.com/open-telemetry/otel-arrow/go/pkg/config"
	arrowrecord "github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"github.com/open-telemetry/otel-arrow/go/pkg/record_message"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/proto"
)

// consumerMemoryLimit is the otelarrow receiver's default arrow.memory_limit_mib (128).
const consumerMemoryLimit = 128 << 20

// producerEvents counts what the producer's adaptive schema did over a stream: the events
// a decoder must follow (dictionary index widening, dictionary reset to a replacement
// dictionary, dictionary overflow to a plain column, new optional columns).
type producerEvents struct {
	Upgrades  map[string]int `json:"dictionary_upgrades"`
	Overflows map[string]int `json:"dictionary_overflows"`
	Resets    map[string]int `json:"dictionary_resets"`
	NewFields int            `json:"new_fields"`
}

func newProducerEvents() *producerEvents {
	return &producerEvents{Upgrades: map[string]int{}, Overflows: map[string]int{}, Resets: map[string]int{}}
}

func (o *producerEvents) OnNewField(string, string) { o.NewFields++ }
func (o *producerEvents) OnDictionaryUpgrade(record, path string, _, _ arrow.DataType, _, _ uint64) {
	o.Upgrades[record+":"+path]++
}
func (o *producerEvents) OnDictionaryOverflow(record, path string, _, _ uint64) {
	o.Overflows[record+":"+path]++
}
func (o *producerEvents) OnSchemaUpdate(string, *arrow.Schema, *arrow.Schema) {}
func (o *producerEvents) OnDictionaryReset(record, path string, _ arrow.DataType, _, _ uint64) {
	o.Resets[record+":"+path]++
}
func (o *producerEvents) OnMetadataUpdate(string, string)                   {}
func (o *producerEvents) OnRecord(arrow.Record, record_message.PayloadType) {}

// summary is what every mode prints on stdout, as one JSON object.
type summary struct {
	Batches       int             `json:"batches"`
	Spans         int             `json:"spans"`
	DecodedSpans  int             `json:"decoded_spans"`
	SchemaIDs     int             `json:"schema_ids"`
	MaxBatchBytes int             `json:"max_batch_bytes"`
	TotalBarBytes int64           `json:"total_bar_bytes"`
	Producer      *producerEvents `json:"producer"`
	PayloadZstd   bool            `json:"payload_zstd"`
	ValueKinds    map[string]int  `json:"value_kinds,omitempty"`
}

// oracle runs one producer and one consumer over a stream of batches, as one gRPC stream of
// the exporter and of the receiver would.
type oracle struct {
	producer  *arrowrecord.Producer
	consumer  *arrowrecord.Consumer
	events    *producerEvents
	schemaIDs map[string]bool
	sum       summary
}

func newOracle(payloadZstd bool) *oracle {
	events := newProducerEvents()
	opts := []arrowconfig.Option{arrowconfig.WithObserver(events)}
	if payloadZstd {
		opts = append(opts, arrowconfig.WithZstd())
	} else {
		opts = append(opts, arrowconfig.WithNoZstd())
	}
	return &oracle{
		producer:  arrowrecord.NewProducerWithOptions(opts...),
		consumer:  arrowrecord.NewConsumer(arrowrecord.WithMemoryLimit(consumerMemoryLimit)),
		events:    events,
		schemaIDs: map[string]bool{},
		sum:       summary{Producer: events, PayloadZstd: payloadZstd},
	}
}

func (o *oracle) close() {
	_ = o.producer.Close()
	_ = o.consumer.Close()
}

// encode turns one batch into a BatchArrowRecords. The producer may reorder td (it sorts), so
// callers write td out before.
func (o *oracle) encode(td ptrace.Traces) (bar *arrowpb.BatchArrowRecords, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the arrow producer: %v", r)
		}
	}()
	o.sum.Batches++
	o.sum.Spans += td.SpanCount()
	bar, err = o.producer.BatchArrowRecordsFromTraces(td)
	if err != nil {
		return nil, err
	}
	for _, p := range bar.ArrowPayloads {
		o.schemaIDs[p.SchemaId] = true
	}
	o.sum.SchemaIDs = len(o.schemaIDs)
	return bar, nil
}

// encodeBatch: one batch through the producer, the BAR and the consumer's decode of it.
func (o *oracle) encodeBatch(td ptrace.Traces, out *streamOut) error {
	bar, err := o.encode(td)
	if err != nil {
		return fmt.Errorf("batch %d: producer: %w", o.sum.Batches-1, err)
	}
	b, err := marshalBar(bar)
	if err != nil {
		return err
	}
	o.sum.MaxBatchBytes = max(o.sum.MaxBatchBytes, len(b))
	o.sum.TotalBarBytes += int64(len(b))
	decoded, err := decodeBar(o.consumer, bar)
	if err != nil {
		return fmt.Errorf("batch %d: consumer: %w", o.sum.Batches-1, err)
	}
	o.sum.DecodedSpans += decoded.SpanCount()
	req, err := marshalRequest(decoded)
	if err != nil {
		return err
	}
	if err := out.bars.write(b); err != nil {
		return err
	}
	return out.expected.write(req)
}

// decodeBar is the Go receiver's view of one BatchArrowRecords: its traces merged into one
// request, nested maps in canonical order (see canonicalize).
func decodeBar(c *arrowrecord.Consumer, bar *arrowpb.BatchArrowRecords) (ptrace.Traces, error) {
	tds, err := c.TracesFrom(bar)
	if err != nil {
		return ptrace.Traces{}, err
	}
	out := ptrace.NewTraces()
	for _, td := range tds {
		td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	canonicalize(out)
	return out, nil
}

// canonicalize sorts the keys of every map nested in an attribute value (recursively). The Go
// consumer decodes those maps from CBOR through a Go map, so their order is random from run to
// run; the attribute lists themselves (resource, scope, span, event, link) keep the order the
// consumer gives them.
func canonicalize(td ptrace.Traces) {
	attrs := func(m pcommon.Map) {
		m.Range(func(_ string, v pcommon.Value) bool { canonicalValue(v); return true })
	}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		attrs(rs.Resource().Attributes())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			attrs(ss.Scope().Attributes())
			for k := 0; k < ss.Spans().Len(); k++ {
				span := ss.Spans().At(k)
				attrs(span.Attributes())
				for e := 0; e < span.Events().Len(); e++ {
					attrs(span.Events().At(e).Attributes())
				}
				for l := 0; l < span.Links().Len(); l++ {
					attrs(span.Links().At(l).Attributes())
				}
			}
		}
	}
}

func canonicalValue(v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		m := v.Map()
		keys := make([]string, 0, m.Len())
		m.Range(func(k string, _ pcommon.Value) bool { keys = append(keys, k); return true })
		sort.Strings(keys)
		sorted := pcommon.NewMap()
		sorted.EnsureCapacity(len(keys))
		for _, k := range keys {
			src, _ := m.Get(k)
			dst := sorted.PutEmpty(k)
			src.CopyTo(dst)
			canonicalValue(dst)
		}
		sorted.MoveTo(m)
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			canonicalValue(s.At(i))
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Files: every record is a uint32 little-endian length and that many bytes.

type lengthPrefixedWriter struct {
	f *os.File
	w *bufio.Writer
}

func createLengthPrefixed(path string) (*lengthPrefixedWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &lengthPrefixedWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (w *lengthPrefixedWriter) write(b []byte) error {
	if uint64(len(b)) > 0xFFFFFFFF {
		return fmt.Errorf("record of %d bytes does not fit a uint32 length", len(b))
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.w.Write(b)
	return err
}

func (w *lengthPrefixedWriter) close() error {
	if err := w.w.Flush(); err != nil {
		_ = w.f.Close()
		return err
	}
	return w.f.Close()
}

// readLengthPrefixed calls fn with each record of the file, in order.
func readLengthPrefixed(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for i := 0; ; i++ {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: record %d: length: %w", path, i, err)
		}
		b := make([]byte, binary.LittleEndian.Uint32(n[:]))
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("%s: record %d: %w", path, i, err)
		}
		if err := fn(b); err != nil {
			return fmt.Errorf("%s: record %d: %w", path, i, err)
		}
	}
}

// readRequests reads OTLP ExportTraceServiceRequests, one per line of OTLP/JSON
// (otlp-json-lines) or one per length-prefixed protobuf record (otlp-proto-lp).
func readRequests(path, format string) ([]ptrace.Traces, error) {
	var out []ptrace.Traces
	switch format {
	case "otlp-proto-lp":
		err := readLengthPrefixed(path, func(b []byte) error {
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(b); err != nil {
				return err
			}
			out = append(out, req.Traces())
			return nil
		})
		return out, err
	case "otlp-json-lines":
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		for line := 1; sc.Scan(); line++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalJSON(sc.Bytes()); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			out = append(out, req.Traces())
		}
		return out, sc.Err()
	default:
		return nil, fmt.Errorf("unknown input format %q (otlp-json-lines or otlp-proto-lp)", format)
	}
}

// jsonLinesWriter writes one OTLP/JSON ExportTraceServiceRequest per line.
type jsonLinesWriter struct {
	f *os.File
	w *bufio.Writer
}

func createJSONLines(path string) (*jsonLinesWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &jsonLinesWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (w *jsonLinesWriter) write(td ptrace.Traces) error {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	return w.w.WriteByte('\n')
}

func (w *jsonLinesWriter) close() error {
	if err := w.w.Flush(); err != nil {
		_ = w.f.Close()
		return err
	}
	return w.f.Close()
}

func marshalRequest(td ptrace.Traces) ([]byte, error) {
	return ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
}

func marshalBar(bar *arrowpb.BatchArrowRecords) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(bar)
}

// regroup cuts the spans of tds into batches of n spans (the last may be shorter), each span
// keeping its resource and scope; consecutive spans of one ScopeSpans stay in one.
func regroup(tds []ptrace.Traces, n int) []ptrace.Traces {
	var out []ptrace.Traces
	var cur ptrace.Traces
	var curRS ptrace.ResourceSpans
	var curSS ptrace.ScopeSpans
	count := 0
	for _, td := range tds {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				newScope := true
				for k := 0; k < ss.Spans().Len(); k++ {
					if count == 0 {
						cur = ptrace.NewTraces()
						out = append(out, cur)
						newScope = true
					}
					if newScope {
						curRS = cur.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(curRS.Resource())
						curRS.SetSchemaUrl(rs.SchemaUrl())
						curSS = curRS.ScopeSpans().AppendEmpty()
						ss.Scope().CopyTo(curSS.Scope())
						curSS.SetSchemaUrl(ss.SchemaUrl())
						newScope = false
					}
					ss.Spans().At(k).CopyTo(curSS.Spans().AppendEmpty())
					if count++; count == n {
						count = 0
					}
				}
			}
		}
	}
	return out
}

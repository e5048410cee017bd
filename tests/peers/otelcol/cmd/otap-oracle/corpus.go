package main

// The random corpus: trace batches meant to drive every branch of an OTAP traces decoder
// through the Go producer. Deterministic for a seed.
//
//   - every AnyValue kind (str, int, double, bool, bytes, map, slice, empty) at every level
//     (resource, scope, span, event, link attributes), maps and slices nested three deep, empty
//     maps, slices, strings and bytes, NaN, ±Inf, -0.0, subnormals, int64 extremes, unicode;
//   - more than 255 distinct keys, names and values, so u8 dictionaries widen to u16;
//   - 40 resources and 30 scopes (each with a distinct signature, so that the producer's
//     merging of equal resources does not depend on how batches are cut), several per batch;
//   - events and links with and without attributes, repeated event names and link trace ids
//     (the quasi-delta parent ids), spans without attributes, events or links (null ids);
//   - with overflow: per span a unique name (the SPANS `name` dictionary overflows to a plain
//     column, > 65,535 distinct values at a ratio above 0.3) and among ten string attributes
//     one unique value (the SPAN_ATTRS `str` dictionary passes 65,535 at a ratio below 0.3 and
//     is reset: a replacement dictionary on the same schema).
//
// The producer drops attributes with an empty key or an Empty value; a few are generated all
// the same (they must vanish on both sides).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	corpusResources = 40
	corpusScopes    = 30
	corpusKeys      = 400
	corpusNames     = 320
)

var unicodeWords = []string{
	"héllo", "naïve café", "日本語のスパン", "Привет", "emoji 🚀✨", "ελληνικά", "עברית",
	"tab\tnew\nline", "nul \u0000 inside", "quote \" backslash \\", "",
}

type corpus struct {
	r          *rand.Rand
	overflow   bool
	resources  []pcommon.Resource
	resURLs    []string
	scopes     []pcommon.InstrumentationScope
	scopeURLs  []string
	keys       []string
	names      []string
	traceIDs   []pcommon.TraceID // reused by links, so that link parent ids are quasi-deltas
	sequence   int
	valueKinds map[string]int
}

func newCorpus(seed uint64, overflow bool) *corpus {
	c := &corpus{
		r:          rand.New(rand.NewPCG(seed, 0x6f746170)),
		overflow:   overflow,
		valueKinds: map[string]int{},
	}
	for i := range corpusKeys {
		c.keys = append(c.keys, fmt.Sprintf("key.%03d.%s", i, unicodeWords[i%len(unicodeWords)]))
	}
	for i := range corpusNames {
		c.names = append(c.names, fmt.Sprintf("operation %d %s", i, unicodeWords[i%len(unicodeWords)]))
	}
	c.names = append(c.names, "") // an empty span name
	for range 64 {
		c.traceIDs = append(c.traceIDs, c.traceID())
	}
	urls := []string{"", "https://opentelemetry.io/schemas/1.24.0", "https://opentelemetry.io/schemas/1.26.0"}
	for i := range corpusResources {
		res := pcommon.NewResource()
		// A distinct service name per resource: the producer merges resources by a textual
		// signature, which must not depend on batching.
		res.Attributes().PutStr("service.name", fmt.Sprintf("service-%02d %s", i, unicodeWords[i%len(unicodeWords)]))
		if i%5 != 0 {
			c.putAttributes(res.Attributes(), c.r.IntN(8), 0)
		}
		if i%7 == 3 {
			res.SetDroppedAttributesCount(uint32(c.r.IntN(5) + 1))
		}
		c.resources = append(c.resources, res)
		c.resURLs = append(c.resURLs, urls[i%len(urls)])
	}
	for i := range corpusScopes {
		s := pcommon.NewInstrumentationScope()
		if i != 0 { // scope 0: no name, version or attributes at all
			s.SetName(fmt.Sprintf("scope.%02d.%s", i, unicodeWords[i%len(unicodeWords)]))
			if i%3 != 0 {
				s.SetVersion(fmt.Sprintf("%d.%d.%d", i%4, i%7, i))
			}
			if i%4 != 0 {
				c.putAttributes(s.Attributes(), c.r.IntN(5), 0)
			}
			if i%6 == 5 {
				s.SetDroppedAttributesCount(uint32(i))
			}
		}
		c.scopes = append(c.scopes, s)
		c.scopeURLs = append(c.scopeURLs, urls[(i+1)%len(urls)])
	}
	return c
}

// batch makes one ExportTraceServiceRequest's worth of spans: a few resources, a few scopes
// each, the spans spread over them.
func (c *corpus) batch(spans int) ptrace.Traces {
	td := ptrace.NewTraces()
	resources := c.r.Perm(corpusResources)[:1+c.r.IntN(5)]
	type slot struct{ ss ptrace.ScopeSpans }
	var slots []slot
	for _, ri := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		c.resources[ri].CopyTo(rs.Resource())
		rs.SetSchemaUrl(c.resURLs[ri])
		for _, si := range c.r.Perm(corpusScopes)[:1+c.r.IntN(4)] {
			ss := rs.ScopeSpans().AppendEmpty()
			c.scopes[si].CopyTo(ss.Scope())
			ss.SetSchemaUrl(c.scopeURLs[si])
			slots = append(slots, slot{ss})
		}
	}
	for i := range spans {
		// Every scope gets at least one span (the producer drops empty ones).
		s := slots[i%len(slots)]
		if i >= len(slots) {
			s = slots[c.r.IntN(len(slots))]
		}
		c.span(s.ss.Spans().AppendEmpty())
	}
	return td
}

func (c *corpus) span(span ptrace.Span) {
	c.sequence++
	span.SetTraceID(c.traceID())
	span.SetSpanID(c.spanID())
	if c.r.IntN(2) == 0 {
		span.SetParentSpanID(c.spanID())
	}
	switch c.r.IntN(4) {
	case 0:
		span.TraceState().FromRaw("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	case 1:
		span.TraceState().FromRaw(fmt.Sprintf("k%d=v%d", c.r.IntN(400), c.r.IntN(10)))
	}
	span.SetFlags([]uint32{0, 1, 0x100, 0x301, c.r.Uint32()}[c.r.IntN(5)])
	if c.overflow {
		span.SetName(fmt.Sprintf("unique operation %d", c.sequence))
	} else {
		span.SetName(c.names[c.r.IntN(len(c.names))])
	}
	span.SetKind(ptrace.SpanKind(c.r.IntN(6)))
	start := uint64(1_795_770_000_000_000_000) + c.r.Uint64N(3_600_000_000_000)
	span.SetStartTimestamp(pcommon.Timestamp(start))
	durations := []uint64{0, 1, 999, c.r.Uint64N(5_000_000_000), c.r.Uint64N(1 << 40)}
	span.SetEndTimestamp(pcommon.Timestamp(start + durations[c.r.IntN(len(durations))]))
	switch c.r.IntN(3) {
	case 1:
		span.Status().SetCode(ptrace.StatusCode(1 + c.r.IntN(2)))
		if c.r.IntN(2) == 0 {
			span.Status().SetMessage(c.word())
		}
	case 2:
		span.Status().SetMessage("message without a code " + c.word())
	}
	if c.r.IntN(5) == 0 {
		span.SetDroppedAttributesCount(uint32(c.r.IntN(10) + 1))
	}
	if c.r.IntN(6) == 0 {
		span.SetDroppedEventsCount(uint32(c.r.IntN(10) + 1))
	}
	if c.r.IntN(7) == 0 {
		span.SetDroppedLinksCount(uint32(c.r.IntN(10) + 1))
	}
	if c.overflow {
		// Ten string attributes: nine of a few values, one never seen before.
		for i := range 9 {
			span.Attributes().PutStr(fmt.Sprintf("repeated.%d", i), fmt.Sprintf("value %d", c.r.IntN(4)))
		}
		span.Attributes().PutStr("unique", fmt.Sprintf("unique value %d", c.sequence))
		c.valueKinds["str"] += 10
	}
	// A third of the spans have no attributes, events or links: their `id` is null.
	if c.r.IntN(3) == 0 {
		return
	}
	c.putAttributes(span.Attributes(), c.r.IntN(12), 0)
	for range c.r.IntN(5) {
		ev := span.Events().AppendEmpty()
		ev.SetName([]string{"exception", "message", "retry", "", c.word()}[c.r.IntN(5)])
		ev.SetTimestamp(pcommon.Timestamp(start + c.r.Uint64N(1_000_000_000)))
		c.putAttributes(ev.Attributes(), c.r.IntN(4), 0)
		if c.r.IntN(5) == 0 {
			ev.SetDroppedAttributesCount(uint32(c.r.IntN(3) + 1))
		}
	}
	for range c.r.IntN(4) {
		link := span.Links().AppendEmpty()
		link.SetTraceID(c.traceIDs[c.r.IntN(len(c.traceIDs))])
		link.SetSpanID(c.spanID())
		if c.r.IntN(3) == 0 {
			link.TraceState().FromRaw(fmt.Sprintf("vendor=%d", c.r.IntN(50)))
		}
		c.putAttributes(link.Attributes(), c.r.IntN(4), 0)
		if c.r.IntN(5) == 0 {
			link.SetDroppedAttributesCount(uint32(c.r.IntN(3) + 1))
		}
		link.SetFlags([]uint32{0, 1, 0x100, 0x301}[c.r.IntN(4)])
	}
}

func (c *corpus) traceID() pcommon.TraceID {
	var id pcommon.TraceID
	for id.IsEmpty() {
		for i := range id {
			id[i] = byte(c.r.UintN(256))
		}
	}
	return id
}

func (c *corpus) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	for id.IsEmpty() {
		for i := range id {
			id[i] = byte(c.r.UintN(256))
		}
	}
	return id
}

func (c *corpus) word() string {
	switch c.r.IntN(4) {
	case 0:
		return unicodeWords[c.r.IntN(len(unicodeWords))]
	case 1:
		return fmt.Sprintf("value-%d", c.r.IntN(2000)) // > 255 distinct: the dictionaries widen
	case 2:
		return strings.Repeat("long ", 1+c.r.IntN(40))
	default:
		return fmt.Sprintf("v%d", c.r.IntN(8))
	}
}

// putAttributes adds n attributes with distinct keys (plus, now and then, one with an empty
// key or an Empty value, which the producer drops).
func (c *corpus) putAttributes(m pcommon.Map, n, depth int) {
	keys := map[string]bool{}
	for range n {
		k := c.keys[c.r.IntN(len(c.keys))]
		if keys[k] {
			continue
		}
		keys[k] = true
		c.value(m.PutEmpty(k), depth)
	}
	if depth == 0 && n > 0 && c.r.IntN(10) == 0 {
		if c.r.IntN(2) == 0 {
			m.PutStr("", "empty key")
		} else {
			m.PutEmpty("empty.value")
		}
	}
}

var specialDoubles = []float64{
	math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 1.5, -2.25,
	math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-310, 0.1, 65504, 1 << 53,
}

var specialInts = []int64{0, 1, -1, 23, 24, 255, 256, 65535, 65536, math.MaxInt64, math.MinInt64, -4294967296}

func (c *corpus) value(v pcommon.Value, depth int) {
	kind := c.r.IntN(8)
	if depth >= 3 && kind >= 5 {
		kind = c.r.IntN(5) // no deeper nesting
	}
	switch kind {
	case 0:
		v.SetStr(c.word())
		c.valueKinds["str"]++
	case 1:
		if c.r.IntN(2) == 0 {
			v.SetInt(specialInts[c.r.IntN(len(specialInts))])
		} else {
			v.SetInt(c.r.Int64() >> c.r.IntN(64))
		}
		c.valueKinds["int"]++
	case 2:
		if c.r.IntN(2) == 0 {
			v.SetDouble(specialDoubles[c.r.IntN(len(specialDoubles))])
		} else {
			v.SetDouble(c.r.NormFloat64() * math.Pow(10, float64(c.r.IntN(20)-10)))
		}
		c.valueKinds["double"]++
	case 3:
		v.SetBool(c.r.IntN(2) == 0)
		c.valueKinds["bool"]++
	case 4:
		b := make([]byte, []int{0, 1, 8, 33}[c.r.IntN(4)])
		for i := range b {
			b[i] = byte(c.r.UintN(256))
		}
		v.SetEmptyBytes().FromRaw(b)
		c.valueKinds["bytes"]++
	case 5:
		// Keys in sorted order: the Go consumer returns nested maps in random order, and the
		// oracle sorts them; with sorted input both orders agree.
		m := v.SetEmptyMap()
		n := c.r.IntN(5)
		var keys []string
		for range n {
			keys = append(keys, c.keys[c.r.IntN(len(c.keys))])
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 && keys[i-1] == k {
				continue
			}
			if c.r.IntN(8) == 0 {
				m.PutEmpty(k) // kept inside a map (CBOR null)
			} else {
				c.value(m.PutEmpty(k), depth+1)
			}
		}
		c.valueKinds["map"]++
	case 6:
		s := v.SetEmptySlice()
		for range c.r.IntN(5) {
			if c.r.IntN(8) == 0 {
				s.AppendEmpty()
			} else {
				c.value(s.AppendEmpty(), depth+1)
			}
		}
		c.valueKinds["slice"]++
	case 7: // left Empty: dropped by the producer at the top level, CBOR null when nested
		c.valueKinds["empty"]++
	}
}

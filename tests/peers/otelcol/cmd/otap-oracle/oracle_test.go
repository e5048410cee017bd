package main

import (
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// writeRandomStream writes BARS and EXPECTED for a small random corpus and returns the paths.
func writeRandomStream(t *testing.T, seed uint64, zstd bool) (string, string, summary) {
	t.Helper()
	dir := t.TempDir()
	bars, expected := filepath.Join(dir, "s.bars"), filepath.Join(dir, "s.expected")
	out, err := createStreamOut(bars, expected)
	if err != nil {
		t.Fatal(err)
	}
	c := newCorpus(seed, false)
	o := newOracle(zstd)
	defer o.close()
	for range 8 {
		if err := o.encodeBatch(c.batch(300), out); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.close(); err != nil {
		t.Fatal(err)
	}
	return bars, expected, o.sum
}

// A fresh consumer (a receiver on a new stream) decodes the files to the same requests, with
// and without IPC compression; the corpus reaches every value kind and widens dictionaries.
func TestEncodedStreamDecodesAgainToExpected(t *testing.T) {
	for _, zstd := range []bool{true, false} {
		bars, expected, sum := writeRandomStream(t, 3, zstd)
		if sum.Spans != 2400 || sum.DecodedSpans != sum.Spans {
			t.Fatalf("spans in %d, decoded %d", sum.Spans, sum.DecodedSpans)
		}
		if len(sum.Producer.Upgrades) == 0 {
			t.Fatalf("no dictionary was widened: %+v", sum.Producer)
		}
		got, err := verifyFiles(bars, expected)
		if err != nil {
			t.Fatalf("zstd=%v: %v", zstd, err)
		}
		if got.Batches != 8 || got.DecodedSpans != 2400 {
			t.Fatalf("verify: %+v", got)
		}
	}
}

// verify fails when EXPECTED is not the decode of BARS (here: another seed's).
func TestVerifyDetectsAMismatch(t *testing.T) {
	bars, _, _ := writeRandomStream(t, 3, true)
	_, otherExpected, _ := writeRandomStream(t, 4, true)
	if _, err := verifyFiles(bars, otherExpected); err == nil ||
		!strings.Contains(err.Error(), "BAR 0") {
		t.Fatalf("expected a mismatch at BAR 0, got %v", err)
	}
}

// Nested maps come out of the consumer in random order; canonicalize sorts them.
func TestCanonicalizeSortsNestedMapsOnly(t *testing.T) {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("z", "top level order is kept")
	m := span.Attributes().PutEmptyMap("a")
	m.PutStr("y", "1")
	inner := m.PutEmptySlice("x").AppendEmpty().SetEmptyMap()
	inner.PutInt("b", 2)
	inner.PutInt("a", 1)
	canonicalize(td)
	var keys []string
	span.Attributes().Range(func(k string, _ pcommon.Value) bool { keys = append(keys, k); return true })
	if strings.Join(keys, ",") != "z,a" {
		t.Fatalf("top-level keys reordered: %v", keys)
	}
	order := func(m pcommon.Map) string {
		var ks []string
		m.Range(func(k string, _ pcommon.Value) bool { ks = append(ks, k); return true })
		return strings.Join(ks, ",")
	}
	v, _ := span.Attributes().Get("a")
	x, _ := v.Map().Get("x")
	if order(v.Map()) != "x,y" || order(x.Slice().At(0).Map()) != "a,b" {
		t.Fatalf("nested maps not sorted: %s / %s", order(v.Map()), order(x.Slice().At(0).Map()))
	}
}

// regroup cuts spans into batches of n, keeping each span's resource and scope.
func TestRegroupKeepsResourceAndScope(t *testing.T) {
	c := newCorpus(5, false)
	in := []ptrace.Traces{c.batch(7), c.batch(9)}
	out := regroup(in, 5)
	if len(out) != 4 || out[0].SpanCount() != 5 || out[3].SpanCount() != 1 {
		t.Fatalf("batches %d, first %d", len(out), out[0].SpanCount())
	}
	type key struct{ service, scope, span string }
	collect := func(tds []ptrace.Traces) map[key]int {
		m := map[key]int{}
		for _, td := range tds {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				rs := td.ResourceSpans().At(i)
				svc, _ := rs.Resource().Attributes().Get("service.name")
				for j := 0; j < rs.ScopeSpans().Len(); j++ {
					ss := rs.ScopeSpans().At(j)
					for k := 0; k < ss.Spans().Len(); k++ {
						m[key{svc.Str(), ss.Scope().Name(), ss.Spans().At(k).SpanID().String()}]++
					}
				}
			}
		}
		return m
	}
	want, got := collect(in), collect(out)
	if len(want) != 16 || len(got) != len(want) {
		t.Fatalf("spans: in %d, out %d", len(want), len(got))
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("span %v: %d in, %d out", k, n, got[k])
		}
	}
}

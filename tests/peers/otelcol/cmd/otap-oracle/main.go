// otap-oracle: the Go reference for otlp-arrow's OTAP (OpenTelemetry Arrow Protocol) traces
// decoder. It runs the OTel-Arrow producer (github.com/open-telemetry/otel-arrow/go v0.46.0
// arrow_record.Producer, as the Collector's otelarrow exporter runs it: one producer per stream,
// Arrow IPC zstd by default) over trace batches, and the Go consumer (arrow_record.Consumer, as
// the Collector's otelarrow receiver runs it) over the BatchArrowRecords it made. Built by
// scripts/build_otelcol.sh into .deps/otelcol/otap-oracle. Modes:
//
//	encode    --input FILE [--format F] --bars OUT.bars --expected OUT.expected
//	          [--spans-per-batch N] [--payload-compression zstd|none]
//	random    --seed S --batches N [--spans-per-batch N] [--dictionary-overflow]
//	          --bars OUT.bars --expected OUT.expected [--otlp OUT.jsonl] [--payload-compression …]
//	roundtrip --input FILE [--format F] --output OUT.jsonl [--spans-per-batch N] [--payload-compression …]
//	verify    --bars BARS --expected EXPECTED
//	capture   --listen HOST:PORT --output OUT.lp [--max-spans N]
//	send      --input FILE [--format F] --endpoint HOST:PORT [--acked OUT.jsonl] [--interval-ms N]
//
// Files: BARS holds each BatchArrowRecords of one stream, in order, as a uint32 little-endian
// length and the serialized message; EXPECTED holds, for each of them, the Go consumer's decode
// as a uint32 LE length and a serialized ExportTraceServiceRequest (the traces of one BAR in one
// request; maps nested in attribute values sorted by key, since Go decodes them through a Go map
// in random order). Input formats: otlp-json-lines (one OTLP/JSON ExportTraceServiceRequest per
// line, the default for *.jsonl) and otlp-proto-lp (length-prefixed protobuf requests, as
// EXPECTED). Every mode but capture and send prints a JSON summary on stdout: batches, spans,
// schema ids, what the producer's adaptive schema did (dictionary upgrades, overflows to plain
// columns, resets), sizes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: otap-oracle encode|random|roundtrip|verify|capture|send [flags] (-h for the flags of one)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode, args := os.Args[1], os.Args[2:]
	var err error
	switch mode {
	case "encode":
		err = runEncode(args)
	case "random":
		err = runRandom(args)
	case "roundtrip":
		err = runRoundtrip(args)
	case "verify":
		err = runVerify(args)
	case "capture":
		err = runCapture(args)
	case "send":
		err = runSend(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "otap-oracle %s: %v\n", mode, err)
		os.Exit(1)
	}
}

func payloadZstd(v string) (bool, error) {
	switch v {
	case "zstd":
		return true, nil
	case "none":
		return false, nil
	}
	return false, fmt.Errorf("--payload-compression: zstd or none, not %q", v)
}

func inputFormat(path, format string) string {
	if format != "" {
		return format
	}
	if strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".json") {
		return "otlp-json-lines"
	}
	return "otlp-proto-lp"
}

func printSummary(s summary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			return fmt.Errorf("--%s is required", n)
		}
	}
	return nil
}

// streamOut writes the BARS and EXPECTED files of one stream.
type streamOut struct {
	bars, expected *lengthPrefixedWriter
}

func createStreamOut(barsPath, expectedPath string) (*streamOut, error) {
	bars, err := createLengthPrefixed(barsPath)
	if err != nil {
		return nil, err
	}
	expected, err := createLengthPrefixed(expectedPath)
	if err != nil {
		_ = bars.close()
		return nil, err
	}
	return &streamOut{bars: bars, expected: expected}, nil
}

func (s *streamOut) close() error {
	err1, err2 := s.bars.close(), s.expected.close()
	if err1 != nil {
		return err1
	}
	return err2
}

func runEncode(args []string) error {
	fs := flag.NewFlagSet("encode", flag.ExitOnError)
	input := fs.String("input", "", "OTLP requests")
	format := fs.String("format", "", "otlp-json-lines or otlp-proto-lp (default: by the file name)")
	bars := fs.String("bars", "", "output: the BatchArrowRecords")
	expected := fs.String("expected", "", "output: the Go consumer's decode of each")
	perBatch := fs.Int("spans-per-batch", 0, "regroup the input's spans into batches of N (0: one batch per request)")
	compression := fs.String("payload-compression", "zstd", "Arrow IPC body compression: zstd or none")
	_ = fs.Parse(args)
	if err := required(fs, "input", "bars", "expected"); err != nil {
		return err
	}
	zstd, err := payloadZstd(*compression)
	if err != nil {
		return err
	}
	tds, err := readRequests(*input, inputFormat(*input, *format))
	if err != nil {
		return err
	}
	if *perBatch > 0 {
		tds = regroup(tds, *perBatch)
	}
	out, err := createStreamOut(*bars, *expected)
	if err != nil {
		return err
	}
	o := newOracle(zstd)
	defer o.close()
	for _, td := range tds {
		if err := o.encodeBatch(td, out); err != nil {
			_ = out.close()
			return err
		}
	}
	if err := out.close(); err != nil {
		return err
	}
	return printSummary(o.sum)
}

func runRandom(args []string) error {
	fs := flag.NewFlagSet("random", flag.ExitOnError)
	seed := fs.Uint64("seed", 1, "random seed")
	batches := fs.Int("batches", 20, "batches (BatchArrowRecords) on the one stream")
	perBatch := fs.Int("spans-per-batch", 200, "spans per batch")
	overflow := fs.Bool("dictionary-overflow", false,
		"a unique span name and one unique string attribute per span: with > 65,535 spans in all, "+
			"the span names' dictionary overflows to a plain column and the attribute strings' is reset")
	bars := fs.String("bars", "", "output: the BatchArrowRecords")
	expected := fs.String("expected", "", "output: the Go consumer's decode of each")
	otlp := fs.String("otlp", "", "output: the generated batches as OTLP/JSON lines")
	compression := fs.String("payload-compression", "zstd", "Arrow IPC body compression: zstd or none")
	_ = fs.Parse(args)
	if err := required(fs, "bars", "expected"); err != nil {
		return err
	}
	if *batches < 1 || *perBatch < 1 {
		return fmt.Errorf("--batches and --spans-per-batch must be > 0")
	}
	zstd, err := payloadZstd(*compression)
	if err != nil {
		return err
	}
	out, err := createStreamOut(*bars, *expected)
	if err != nil {
		return err
	}
	var jsonOut *jsonLinesWriter
	if *otlp != "" {
		if jsonOut, err = createJSONLines(*otlp); err != nil {
			_ = out.close()
			return err
		}
	}
	c := newCorpus(*seed, *overflow)
	o := newOracle(zstd)
	defer o.close()
	for range *batches {
		td := c.batch(*perBatch)
		if jsonOut != nil {
			if err := jsonOut.write(td); err != nil {
				return err
			}
		}
		if err := o.encodeBatch(td, out); err != nil {
			_ = out.close()
			return err
		}
	}
	if jsonOut != nil {
		if err := jsonOut.close(); err != nil {
			return err
		}
	}
	if err := out.close(); err != nil {
		return err
	}
	o.sum.ValueKinds = c.valueKinds
	return printSummary(o.sum)
}

func runRoundtrip(args []string) error {
	fs := flag.NewFlagSet("roundtrip", flag.ExitOnError)
	input := fs.String("input", "", "OTLP requests")
	format := fs.String("format", "", "otlp-json-lines or otlp-proto-lp (default: by the file name)")
	output := fs.String("output", "", "output: what the Go consumer decodes, as OTLP/JSON lines")
	perBatch := fs.Int("spans-per-batch", 0, "regroup the input's spans into batches of N (0: one batch per request)")
	compression := fs.String("payload-compression", "zstd", "Arrow IPC body compression: zstd or none")
	_ = fs.Parse(args)
	if err := required(fs, "input", "output"); err != nil {
		return err
	}
	zstd, err := payloadZstd(*compression)
	if err != nil {
		return err
	}
	tds, err := readRequests(*input, inputFormat(*input, *format))
	if err != nil {
		return err
	}
	if *perBatch > 0 {
		tds = regroup(tds, *perBatch)
	}
	out, err := createJSONLines(*output)
	if err != nil {
		return err
	}
	o := newOracle(zstd)
	defer o.close()
	for i, td := range tds {
		bar, err := o.encode(td)
		if err != nil {
			_ = out.close()
			return fmt.Errorf("batch %d: producer: %w", i, err)
		}
		decoded, err := decodeBar(o.consumer, bar)
		if err != nil {
			_ = out.close()
			return fmt.Errorf("batch %d: consumer: %w", i, err)
		}
		o.sum.DecodedSpans += decoded.SpanCount()
		if err := out.write(decoded); err != nil {
			return err
		}
	}
	if err := out.close(); err != nil {
		return err
	}
	return printSummary(o.sum)
}

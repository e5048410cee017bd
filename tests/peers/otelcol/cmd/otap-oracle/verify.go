package main

import (
	"bytes"
	"flag"
	"fmt"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	arrowrecord "github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"google.golang.org/protobuf/proto"
)

// runVerify decodes BARS again with a fresh consumer (as a receiver would, on a new stream)
// and checks that each decode is EXPECTED's record, byte for byte: the files are one stream,
// complete and in order.
func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	bars := fs.String("bars", "", "BatchArrowRecords")
	expected := fs.String("expected", "", "the Go consumer's decode of each")
	_ = fs.Parse(args)
	if err := required(fs, "bars", "expected"); err != nil {
		return err
	}
	s, err := verifyFiles(*bars, *expected)
	if err != nil {
		return err
	}
	return printSummary(s)
}

func verifyFiles(barsPath, expectedPath string) (summary, error) {
	var want [][]byte
	if err := readLengthPrefixed(expectedPath, func(b []byte) error {
		want = append(want, b)
		return nil
	}); err != nil {
		return summary{}, err
	}
	consumer := arrowrecord.NewConsumer(arrowrecord.WithMemoryLimit(consumerMemoryLimit))
	defer consumer.Close()
	var s summary
	schemaIDs := map[string]bool{}
	err := readLengthPrefixed(barsPath, func(b []byte) error {
		i := s.Batches
		s.Batches++
		if i >= len(want) {
			return fmt.Errorf("more BARs than expected records (%d)", len(want))
		}
		bar := &arrowpb.BatchArrowRecords{}
		if err := proto.Unmarshal(b, bar); err != nil {
			return err
		}
		for _, p := range bar.ArrowPayloads {
			schemaIDs[p.SchemaId] = true
		}
		decoded, err := decodeBar(consumer, bar)
		if err != nil {
			return err
		}
		s.DecodedSpans += decoded.SpanCount()
		got, err := marshalRequest(decoded)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want[i]) {
			return fmt.Errorf("BAR %d (batch_id %d) decodes to %d bytes of OTLP, expected %d bytes that differ",
				i, bar.BatchId, len(got), len(want[i]))
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	if s.Batches != len(want) {
		return s, fmt.Errorf("%d BARs, %d expected records", s.Batches, len(want))
	}
	s.Spans = s.DecodedSpans
	s.SchemaIDs = len(schemaIDs)
	return s, nil
}

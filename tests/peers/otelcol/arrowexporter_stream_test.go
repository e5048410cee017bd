package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
)

// scriptedReceiver is an ArrowTracesService that answers each BatchArrowRecords with the next
// status code of its script (OK once the script is used up) and records, per stream, the
// headers of each batch as one HPACK decoder per stream reads them.
type scriptedReceiver struct {
	arrowpb.UnimplementedArrowTracesServiceServer
	mu      sync.Mutex
	script  []arrowpb.StatusCode
	streams [][]map[string]string // per stream, per batch: the decoded headers
	ended   []error               // per stream, how the call ended for the server (io.EOF: half-close)
}

func (r *scriptedReceiver) ArrowTraces(stream arrowpb.ArrowTracesService_ArrowTracesServer) error {
	r.mu.Lock()
	r.streams = append(r.streams, nil)
	idx := len(r.streams) - 1
	r.mu.Unlock()
	dec := hpack.NewDecoder(4096, nil)
	for {
		bar, err := stream.Recv()
		if err != nil {
			r.mu.Lock()
			r.ended = append(r.ended, err)
			r.mu.Unlock()
			if errors.Is(err, io.EOF) {
				return nil // half-close: everything was answered, end the call with OK
			}
			return err
		}
		fields, err := dec.DecodeFull(bar.Headers)
		if err != nil {
			return err
		}
		headers := map[string]string{}
		for _, f := range fields {
			headers[f.Name] = f.Value
		}
		code := arrowpb.StatusCode_OK
		r.mu.Lock()
		r.streams[idx] = append(r.streams[idx], headers)
		if len(r.script) > 0 {
			code, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		if err := stream.Send(&arrowpb.BatchStatus{BatchId: bar.BatchId, StatusCode: code}); err != nil {
			return err
		}
	}
}

func startScriptedReceiver(t *testing.T, script ...arrowpb.StatusCode) (*scriptedReceiver, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &scriptedReceiver{script: script}
	server := grpc.NewServer()
	arrowpb.RegisterArrowTracesServiceServer(server, r)
	go func() { _ = server.Serve(lis) }()
	t.Cleanup(server.Stop)
	return r, lis.Addr().String()
}

func oneSpan() ptrace.Traces {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("probe")
	span.SetTraceID([16]byte{1})
	span.SetSpanID([8]byte{2})
	return td
}

// An exporter without its queue (each ConsumeTraces waits for its result) and with quick retries.
func startExporter(t *testing.T, endpoint string, edit func(*ArrowLiteConfig)) func(ptrace.Traces) error {
	t.Helper()
	factory := newArrowLiteFactory()
	cfg := factory.CreateDefaultConfig().(*ArrowLiteConfig)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.ClientConfig.TLS.Insecure = true
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 10 * time.Second
	cfg.Arrow.NumStreams = 1
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	exp, err := factory.CreateTraces(context.Background(), exportertest.NewNopSettings(factory.Type()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return func(td ptrace.Traces) error { return exp.ConsumeTraces(context.Background(), td) }
}

// UNAVAILABLE is retried on the same stream; every batch's HPACK block (one decoder per stream,
// so the dynamic table carries over) holds the batch headers, otlp-pdata-size and grpc-timeout.
func TestUnavailableIsRetriedAndHeadersAreHpack(t *testing.T) {
	r, addr := startScriptedReceiver(t, arrowpb.StatusCode_UNAVAILABLE)
	send := startExporter(t, addr, func(c *ArrowLiteConfig) {
		c.Arrow.BatchHeaders = configopaque.MapList{{Name: "authorization", Value: "Bearer t0ken"}}
	})
	for range 3 {
		if err := send(oneSpan()); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.streams) != 1 || len(r.streams[0]) != 4 {
		t.Fatalf("streams %d, batches %v", len(r.streams), r.streams)
	}
	for i, h := range r.streams[0] {
		if h["authorization"] != "Bearer t0ken" || h["otlp-pdata-size"] == "" ||
			!strings.HasSuffix(h["grpc-timeout"], "u") {
			t.Errorf("batch %d headers %v", i, h)
		}
	}
}

// A status code the exporter does not know what to do with (UNAUTHENTICATED here) drops the
// batch and breaks the stream; the next batch goes on a new one.
func TestUnknownStatusDropsTheBatchAndBreaksTheStream(t *testing.T) {
	r, addr := startScriptedReceiver(t, arrowpb.StatusCode_UNAUTHENTICATED)
	send := startExporter(t, addr, nil)
	err := send(oneSpan())
	if !consumererror.IsPermanent(err) || !strings.Contains(err.Error(), "UNAUTHENTICATED") {
		t.Fatalf("expected a permanent error naming UNAUTHENTICATED, got %v", err)
	}
	if err := send(oneSpan()); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.streams) != 2 || len(r.streams[0]) != 1 || len(r.streams[1]) != 1 {
		t.Fatalf("expected 2 streams of one batch each, got %v", r.streams)
	}
}

// At the end of its lifetime a stream is half-closed and the exporter waits for the receiver
// to end the call (the receiver sees io.EOF); the next batch goes on a new stream.
func TestStreamLifetimeEndsWithHalfClose(t *testing.T) {
	r, addr := startScriptedReceiver(t)
	send := startExporter(t, addr, func(c *ArrowLiteConfig) { c.Arrow.MaxStreamLifetime = time.Second })
	if err := send(oneSpan()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		ended := len(r.ended)
		r.mu.Unlock()
		if ended > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := send(oneSpan()); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ended) == 0 || !errors.Is(r.ended[0], io.EOF) || len(r.streams) < 2 {
		t.Fatalf("ended %v, streams %d", r.ended, len(r.streams))
	}
}

package main

// capture and send: OTLP/gRPC in and out, so that a workload made by `otlp-arrow loadgen` can
// be recorded once and then replayed, request by request, into a Collector.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // clients may send gzip
)

type captureServer struct {
	ptraceotlp.UnimplementedGRPCServer
	mu       sync.Mutex
	write    func(ptrace.Traces) error
	maxSpans int
	spans    int
	requests int
}

func (s *captureServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := req.Traces().SpanCount()
	if s.maxSpans > 0 && s.spans+n > s.maxSpans {
		return ptraceotlp.NewExportResponse(), nil // acknowledged, not recorded
	}
	if err := s.write(req.Traces()); err != nil {
		return ptraceotlp.NewExportResponse(), err
	}
	s.spans += n
	s.requests++
	return ptraceotlp.NewExportResponse(), nil
}

// runCapture serves OTLP/gRPC and records every request (up to --max-spans spans; later ones
// are acknowledged and dropped) until SIGTERM or SIGINT: as OTLP/JSON lines when the output's
// name ends in .jsonl, else as length-prefixed protobuf.
func runCapture(args []string) error {
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "OTLP/gRPC listen address")
	output := fs.String("output", "", "output: the requests (*.jsonl: otlp-json-lines, else otlp-proto-lp)")
	maxSpans := fs.Int("max-spans", 0, "record at most this many spans (whole requests); 0: all")
	_ = fs.Parse(args)
	if err := required(fs, "output"); err != nil {
		return err
	}
	var write func(ptrace.Traces) error
	var closeOut func() error
	if inputFormat(*output, "") == "otlp-json-lines" {
		out, err := createJSONLines(*output)
		if err != nil {
			return err
		}
		write, closeOut = out.write, out.close
	} else {
		out, err := createLengthPrefixed(*output)
		if err != nil {
			return err
		}
		write = func(td ptrace.Traces) error {
			b, err := marshalRequest(td)
			if err != nil {
				return err
			}
			return out.write(b)
		}
		closeOut = out.close
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &captureServer{write: write, maxSpans: *maxSpans}
	server := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	ptraceotlp.RegisterGRPCServer(server, srv)
	fmt.Printf("capturing OTLP/gRPC on %s\n", lis.Addr())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-signals; server.GracefulStop() }()
	if err := server.Serve(lis); err != nil {
		return err
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	fmt.Printf("{\"requests\":%d,\"spans\":%d}\n", srv.requests, srv.spans)
	return closeOut()
}

// runSend exports the requests of the input over OTLP/gRPC, --concurrency at a time (each
// worker takes the next request and waits for its answer); the acknowledged ones go to --acked
// as OTLP/JSON lines, written as they are acknowledged. After the first failure no request is
// started any more, and the exit status is 1.
func runSend(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	input := fs.String("input", "", "OTLP requests")
	format := fs.String("format", "", "otlp-json-lines or otlp-proto-lp (default: by the file name)")
	endpoint := fs.String("endpoint", "", "OTLP/gRPC endpoint (host:port)")
	acked := fs.String("acked", "", "output: the acknowledged requests, OTLP/JSON lines")
	concurrency := fs.Int("concurrency", 1, "Export calls in flight")
	interval := fs.Duration("interval", 0, "pause of each worker between its requests")
	timeout := fs.Duration("timeout", 30*time.Second, "deadline of each Export call")
	_ = fs.Parse(args)
	if err := required(fs, "input", "endpoint"); err != nil {
		return err
	}
	if *concurrency < 1 {
		return fmt.Errorf("--concurrency must be > 0")
	}
	tds, err := readRequests(*input, inputFormat(*input, *format))
	if err != nil {
		return err
	}
	// The JSON of each request first: the exporter may reorder what it is given.
	lines := make([][]byte, len(tds))
	for i, td := range tds {
		if lines[i], err = ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON(); err != nil {
			return err
		}
	}
	var ackedOut *os.File
	if *acked != "" {
		if ackedOut, err = os.Create(*acked); err != nil {
			return err
		}
		defer ackedOut.Close()
	}
	conn, err := grpc.NewClient(*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)

	var mu sync.Mutex
	result := struct {
		Requests int    `json:"requests_acknowledged"`
		Spans    int    `json:"spans_acknowledged"`
		Error    string `json:"error,omitempty"`
	}{}
	next := 0
	take := func() int { // the next request's index, -1 when done or failed
		mu.Lock()
		defer mu.Unlock()
		if next == len(tds) || result.Error != "" {
			return -1
		}
		next++
		return next - 1
	}
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Go(func() {
			for first := true; ; first = false {
				i := take()
				if i < 0 {
					return
				}
				if !first && *interval > 0 {
					time.Sleep(*interval)
				}
				ctx, cancel := context.WithTimeout(context.Background(), *timeout)
				_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(tds[i]),
					grpc.WaitForReady(true))
				cancel()
				mu.Lock()
				if err != nil {
					if result.Error == "" {
						result.Error = fmt.Sprintf("request %d: %v", i, err)
					}
				} else {
					if ackedOut != nil {
						_, _ = ackedOut.Write(append(lines[i], '\n'))
					}
					result.Requests++
					result.Spans += tds[i].SpanCount()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b, _ := json.Marshal(result)
	fmt.Println(string(b))
	if result.Error != "" {
		return fmt.Errorf("%s", result.Error)
	}
	return nil
}

package main

// otelarrowlite: an OTel-Arrow (OTAP) traces exporter written for this peer, standing in for the
// contrib otelarrow exporter, which the reachable Go module proxy does not serve. It does what
// that exporter does on its hot path, with its defaults:
//
//   - the exporterhelper queue (wait_for_result, block_on_overflow, items sizer,
//     10 consumers per stream) with its batcher (min 1000, max 1500 items, flush 1 s);
//   - per batch an HPACK block (one stateful encoder per stream) with "otlp-pdata-size" (the
//     pdata size) and "grpc-timeout" (what is left of the export deadline, exporterhelper's
//     timeout 5 s), plus arrow.batch_headers (below);
//   - one arrow_record.Producer per stream (Arrow IPC payload compression zstd unless
//     arrow.payload_compression is none), one ArrowTracesService stream per producer, recycled
//     after arrow.max_stream_lifetime (30 s) minus 0-5 % jitter: CloseSend, then wait for the
//     receiver to answer what it has and end the call, without a timeout;
//   - gRPC-level zstd through the "zstdarrow<level>" compressor (level 5) that the contrib
//     otelarrow receiver's zstd package registers in this binary;
//   - arrow.num_streams streams (default max(1, NumCPU/2)), the least loaded one picked;
//   - BatchStatus: OK succeeds; UNAVAILABLE is retried; INVALID_ARGUMENT and RESOURCE_EXHAUSTED
//     (never with RetryInfo) are permanent, the data dropped; any other code is a permanent
//     INTERNAL error and breaks the stream, as does a status for an unknown batch_id. Batches
//     without a status when a stream ends are sent again on the next one;
//   - a stream whose call ends UNIMPLEMENTED is not restarted; once every stream has, the
//     exporter downgrades to unary OTLP Export on the same connection (unless
//     arrow.disable_downgrade);
//   - `headers:` (configgrpc) go in the stream's gRPC metadata.
//
// Only in this stand-in: arrow.batch_headers, a map sent in every batch's HPACK block. The
// contrib exporter puts there what an auth extension's per-RPC credentials return (e.g.
// bearertokenauth's "authorization: Bearer …"); this peer has no auth extension, so the key lets
// a test send the same header the same way.
//
// Left out: metrics and logs, auth extensions, metadata_keys, prioritizers other than least
// loaded, netstats metrics and per-batch tracing spans.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	arrowconfig "github.com/open-telemetry/otel-arrow/go/pkg/config"
	arrowrecord "github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/zap"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

var arrowLiteType = component.MustNewType("otelarrowlite")

// ArrowLiteConfig mirrors the contrib otelarrow exporter's configuration (the parts kept).
type ArrowLiteConfig struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	ClientConfig  configgrpc.ClientConfig                                  `mapstructure:",squash"`
	Arrow         ArrowLiteArrowConfig                                     `mapstructure:"arrow"`
}

// ArrowLiteArrowConfig is the `arrow:` block.
type ArrowLiteArrowConfig struct {
	NumStreams         int                    `mapstructure:"num_streams"`
	MaxStreamLifetime  time.Duration          `mapstructure:"max_stream_lifetime"`
	PayloadCompression configcompression.Type `mapstructure:"payload_compression"`
	Zstd               struct {
		Level uint `mapstructure:"level"`
	} `mapstructure:"zstd"`
	DisableDowngrade bool `mapstructure:"disable_downgrade"`
	// BatchHeaders (this stand-in only) go into every batch's HPACK block.
	BatchHeaders configopaque.MapList `mapstructure:"batch_headers"`
}

func (c *ArrowLiteConfig) Validate() error {
	if c.ClientConfig.Endpoint == "" {
		return errors.New(`requires a non-empty "endpoint"`)
	}
	if c.Arrow.NumStreams < 1 {
		return fmt.Errorf("arrow.num_streams must be > 0: %d", c.Arrow.NumStreams)
	}
	if c.Arrow.MaxStreamLifetime < time.Second {
		return fmt.Errorf("arrow.max_stream_lifetime must be >= 1s: %v", c.Arrow.MaxStreamLifetime)
	}
	switch c.Arrow.PayloadCompression {
	case "", "none", configcompression.TypeZstd:
	default:
		return fmt.Errorf("arrow.payload_compression: zstd or none, not %q", c.Arrow.PayloadCompression)
	}
	if c.Arrow.Zstd.Level < 1 || c.Arrow.Zstd.Level > 10 {
		return fmt.Errorf("arrow.zstd.level must be in [1, 10]: %d", c.Arrow.Zstd.Level)
	}
	return c.Arrow.BatchHeaders.Validate()
}

const producersPerStream = 10

func newArrowLiteFactory() exporter.Factory {
	return exporter.NewFactory(arrowLiteType, createArrowLiteDefaultConfig,
		exporter.WithTraces(createArrowLiteTraces, component.StabilityLevelDevelopment))
}

func createArrowLiteDefaultConfig() component.Config {
	numStreams := max(1, runtime.NumCPU()/2)
	queue := exporterhelper.NewDefaultQueueConfig()
	queue.WaitForResult = true
	queue.BlockOnOverflow = true
	queue.Sizer = exporterhelper.RequestSizerTypeItems
	queue.QueueSize = 100_000
	queue.NumConsumers = producersPerStream * numStreams
	queue.Batch = configoptional.Some(exporterhelper.BatchConfig{
		FlushTimeout: time.Second,
		Sizer:        exporterhelper.RequestSizerTypeItems,
		MinSize:      1000,
		MaxSize:      1500,
	})
	client := configgrpc.NewDefaultClientConfig()
	client.Compression = configcompression.TypeZstd
	client.WriteBufferSize = 512 * 1024
	client.BalancerName = "round_robin"
	cfg := &ArrowLiteConfig{
		TimeoutConfig: exporterhelper.NewDefaultTimeoutConfig(),
		QueueConfig:   configoptional.Some(queue),
		RetryConfig:   configretry.NewDefaultBackOffConfig(),
		ClientConfig:  client,
	}
	cfg.Arrow.NumStreams = numStreams
	cfg.Arrow.MaxStreamLifetime = 30 * time.Second
	cfg.Arrow.PayloadCompression = configcompression.TypeZstd
	cfg.Arrow.Zstd.Level = 5
	return cfg
}

func createArrowLiteTraces(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Traces, error) {
	cfg := c.(*ArrowLiteConfig)
	e := &arrowLiteExporter{cfg: cfg, set: set}
	return exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces,
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(cfg.TimeoutConfig),
		exporterhelper.WithRetry(cfg.RetryConfig),
		exporterhelper.WithQueue(cfg.QueueConfig),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
	)
}

// errStreamRestarting sends a batch again, on the next stream, when its stream ended first.
var errStreamRestarting = errors.New("arrow stream restarting")

type arrowLiteExporter struct {
	cfg      *ArrowLiteConfig
	set      exporter.Settings
	conn     *grpc.ClientConn
	callOpts []grpc.CallOption
	streams  []*arrowLiteStream
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// Streams whose call ended UNIMPLEMENTED; once all have, every batch goes by unary OTLP
	// Export.
	unsupported atomic.Int32
}

type writeItem struct {
	td       ptrace.Traces
	size     int
	deadline time.Time // zero: none
	errCh    chan error
}

type arrowLiteStream struct {
	e           *arrowLiteExporter
	toWrite     chan writeItem // outlives each gRPC stream, as in the contrib exporter
	outstanding atomic.Int64
	unsupported atomic.Bool   // its last call ended UNIMPLEMENTED: not restarted
	gone        chan struct{} // closed when run returns
}

func (e *arrowLiteExporter) start(ctx context.Context, host component.Host) error {
	conn, err := e.cfg.ClientConfig.ToClientConn(ctx, host.GetExtensions(), e.set.TelemetrySettings)
	if err != nil {
		return err
	}
	e.conn = conn
	e.callOpts = []grpc.CallOption{grpc.WaitForReady(e.cfg.ClientConfig.WaitForReady)}
	if e.cfg.ClientConfig.Compression == configcompression.TypeZstd {
		name := fmt.Sprintf("zstdarrow%d", e.cfg.Arrow.Zstd.Level)
		if encoding.GetCompressor(name) == nil {
			return fmt.Errorf("gRPC compressor %q is not registered", name)
		}
		e.callOpts = append(e.callOpts, grpc.UseCompressor(name))
	}
	bg, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	for range e.cfg.Arrow.NumStreams {
		s := &arrowLiteStream{e: e, toWrite: make(chan writeItem), gone: make(chan struct{})}
		e.streams = append(e.streams, s)
		e.wg.Go(func() { s.run(bg) })
	}
	return nil
}

func (e *arrowLiteExporter) shutdown(context.Context) error {
	if e.cancel != nil {
		e.cancel()
		e.wg.Wait()
	}
	if e.conn != nil {
		return e.conn.Close()
	}
	return nil
}

// leastLoaded is the stream with the fewest batches waiting, among those still running.
func (e *arrowLiteExporter) leastLoaded() *arrowLiteStream {
	var best *arrowLiteStream
	for _, s := range e.streams {
		if s.unsupported.Load() {
			continue
		}
		if best == nil || s.outstanding.Load() < best.outstanding.Load() {
			best = s
		}
	}
	return best
}

func (e *arrowLiteExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	var sizer ptrace.ProtoMarshaler
	item := writeItem{td: td, size: sizer.TracesSize(td)}
	if deadline, ok := ctx.Deadline(); ok {
		item.deadline = deadline
	}
	for {
		s := e.leastLoaded()
		if s == nil { // downgraded
			return e.exportOTLP(ctx, td)
		}
		item.errCh = make(chan error, 1)
		s.outstanding.Add(1)
		select {
		case s.toWrite <- item:
		case <-s.gone:
			s.outstanding.Add(-1)
			continue
		case <-ctx.Done():
			s.outstanding.Add(-1)
			return ctx.Err()
		}
		var err error
		select {
		case err = <-item.errCh:
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.outstanding.Add(-1)
		if errors.Is(err, errStreamRestarting) {
			continue
		}
		return err
	}
}

// exportOTLP is the downgraded path: one unary OTLP Export, its error classified as the OTLP
// exporter does (retryable codes; RESOURCE_EXHAUSTED only with RetryInfo; the rest permanent).
func (e *arrowLiteExporter) exportOTLP(ctx context.Context, td ptrace.Traces) error {
	_, err := ptraceotlp.NewGRPCClient(e.conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td),
		grpc.WaitForReady(e.cfg.ClientConfig.WaitForReady))
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange,
		codes.Unavailable, codes.DataLoss:
		return err
	case codes.ResourceExhausted:
		for _, d := range st.Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				return err
			}
		}
	}
	return consumererror.NewPermanent(err)
}

// run keeps one gRPC stream going at a time until ctx ends, or until a call ends
// UNIMPLEMENTED (the receiver has no OTel-Arrow service) and downgrade is allowed.
func (s *arrowLiteStream) run(ctx context.Context) {
	defer close(s.gone)
	for ctx.Err() == nil {
		err := s.runOnce(ctx)
		if err == nil || ctx.Err() != nil {
			continue
		}
		if s.unsupported.Load() {
			if int(s.e.unsupported.Add(1)) == len(s.e.streams) {
				s.e.set.Logger.Info("could not establish arrow streams, downgrading to standard OTLP export")
			}
			return
		}
		s.e.set.Logger.Warn("arrow stream ended", zap.Error(err))
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// addJitter subtracts 0-5 % from the stream lifetime, so that streams opened together are not
// all recycled at once.
func addJitter(v time.Duration) time.Duration {
	if v < 20 {
		return v
	}
	return v - time.Duration(rand.Int64N(int64(v/20)))
}

// encodeTimeout writes d as a grpc-timeout header value: at most 8 digits and a unit,
// rounded up.
func encodeTimeout(d time.Duration) string {
	if d <= 0 {
		return "0n"
	}
	units := []struct {
		d    time.Duration
		unit string
	}{{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"},
		{time.Second, "S"}, {time.Minute, "M"}, {time.Hour, "H"}}
	for _, u := range units {
		n := (d + u.d - 1) / u.d
		if n <= 99_999_999 {
			return strconv.FormatInt(int64(n), 10) + u.unit
		}
	}
	return "99999999H"
}

func (s *arrowLiteStream) runOnce(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client, err := arrowpb.NewArrowTracesServiceClient(s.e.conn).ArrowTraces(sctx, s.e.callOpts...)
	if err != nil {
		return err
	}
	var opts []arrowconfig.Option
	if s.e.cfg.Arrow.PayloadCompression == configcompression.TypeZstd {
		opts = append(opts, arrowconfig.WithZstd())
	} else {
		opts = append(opts, arrowconfig.WithNoZstd())
	}
	producer := arrowrecord.NewProducerWithOptions(opts...)
	defer func() { _ = producer.Close() }()

	var mu sync.Mutex
	waiters := map[int64]chan error{}
	readDone := make(chan error, 1)
	go func() {
		for {
			st, err := client.Recv()
			if err != nil {
				readDone <- err
				return
			}
			mu.Lock()
			ch, ok := waiters[st.BatchId]
			delete(waiters, st.BatchId)
			mu.Unlock()
			if !ok {
				readDone <- status.Errorf(codes.Internal, "unrecognized batch ID: %d", st.BatchId)
				cancel()
				return
			}
			err, breaks := batchStatusError(st)
			ch <- err
			if breaks {
				readDone <- err
				cancel()
				return
			}
		}
	}()

	var hdrs bytes.Buffer
	enc := hpack.NewEncoder(&hdrs)
	lifetime := time.NewTimer(addJitter(s.e.cfg.Arrow.MaxStreamLifetime))
	defer lifetime.Stop()
	var writeErr, readErr error
	readerFinished := false
write:
	for {
		select {
		case <-lifetime.C:
			break write
		case <-sctx.Done():
			break write
		case readErr = <-readDone:
			readerFinished = true
			break write
		case it := <-s.toWrite:
			batch, err := encodeTraces(producer, it.td)
			if err != nil {
				it.errCh <- consumererror.NewPermanent(err)
				writeErr = err
				break write
			}
			hdrs.Reset()
			for name, value := range s.e.cfg.Arrow.BatchHeaders.Iter {
				_ = enc.WriteField(hpack.HeaderField{Name: name, Value: string(value)})
			}
			_ = enc.WriteField(hpack.HeaderField{Name: "otlp-pdata-size", Value: strconv.Itoa(it.size)})
			if !it.deadline.IsZero() {
				_ = enc.WriteField(hpack.HeaderField{Name: "grpc-timeout", Value: encodeTimeout(time.Until(it.deadline))})
			}
			batch.Headers = append([]byte(nil), hdrs.Bytes()...)
			mu.Lock()
			waiters[batch.BatchId] = it.errCh
			mu.Unlock()
			if err := client.Send(batch); err != nil {
				// io.EOF: the call ended; its status comes from Recv.
				if !errors.Is(err, io.EOF) {
					writeErr = err
				}
				break write
			}
		}
	}
	_ = client.CloseSend()
	if !readerFinished {
		// The receiver answers what it has and then ends the call; wait for it as long as it
		// takes (the contrib exporter has no timeout here either), or until shutdown.
		select {
		case readErr = <-readDone:
		case <-ctx.Done():
			cancel()
			readErr = <-readDone
		}
	}
	if status.Code(readErr) == codes.Unimplemented && !s.e.cfg.Arrow.DisableDowngrade {
		// Before the batches go back to pushTraces, which must not pick this stream again.
		s.unsupported.Store(true)
	}
	mu.Lock()
	for id, ch := range waiters {
		ch <- errStreamRestarting
		delete(waiters, id)
	}
	mu.Unlock()
	if writeErr != nil {
		return writeErr
	}
	if errors.Is(readErr, io.EOF) {
		return nil
	}
	return readErr
}

func encodeTraces(p *arrowrecord.Producer, td ptrace.Traces) (batch *arrowpb.BatchArrowRecords, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the arrow producer: %v", r)
		}
	}()
	return p.BatchArrowRecordsFromTraces(td)
}

// batchStatusError is the result of one batch and whether the stream must end: UNAVAILABLE is
// retried, INVALID_ARGUMENT and RESOURCE_EXHAUSTED (the exporter never gets RetryInfo here)
// drop the data, and any other code is an INTERNAL error that breaks the stream.
func batchStatusError(st *arrowpb.BatchStatus) (error, bool) {
	switch st.StatusCode {
	case arrowpb.StatusCode_OK:
		return nil, false
	case arrowpb.StatusCode_UNAVAILABLE:
		return status.Errorf(codes.Unavailable, "destination unavailable: %d: %s", st.BatchId, st.StatusMessage), false
	case arrowpb.StatusCode_INVALID_ARGUMENT:
		return consumererror.NewPermanent(status.Errorf(codes.InvalidArgument,
			"invalid argument: %d: %s", st.BatchId, st.StatusMessage)), false
	case arrowpb.StatusCode_RESOURCE_EXHAUSTED:
		return consumererror.NewPermanent(status.Errorf(codes.ResourceExhausted,
			"resource exhausted: %d: %s", st.BatchId, st.StatusMessage)), false
	default:
		return consumererror.NewPermanent(status.Errorf(codes.Internal,
			"unexpected stream response: batch %d: %s: %s", st.BatchId, st.StatusCode, st.StatusMessage)), true
	}
}

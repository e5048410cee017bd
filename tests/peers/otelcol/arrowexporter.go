package main

// otelarrowlite: an OTel-Arrow (OTAP) traces exporter written for this peer, standing in for the
// contrib otelarrow exporter, which the reachable Go module proxy does not serve. It does what
// that exporter does on its hot path, with its defaults:
//
//   - the exporterhelper queue (wait_for_result, block_on_overflow, items sizer,
//     10 consumers per stream) with its batcher (min 1000, max 1500 items, flush 1 s);
//   - per batch, the pdata size for the "otlp-pdata-size" header (hpack-encoded);
//   - one arrow_record.Producer per stream (Arrow IPC payload compression zstd unless
//     arrow.payload_compression is none), one ArrowTracesService stream per producer, recycled
//     after arrow.max_stream_lifetime (30 s);
//   - gRPC-level zstd through the "zstdarrow<level>" compressor (level 5) that the contrib
//     otelarrow receiver's zstd package registers in this binary;
//   - arrow.num_streams streams (default max(1, NumCPU/2)), the least loaded one picked.
//
// Left out: metrics and logs, downgrade to plain OTLP, auth, metadata_keys, netstats metrics and
// per-batch tracing spans.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
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
	return nil
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
}

type writeItem struct {
	td    ptrace.Traces
	size  int
	errCh chan error
}

type arrowLiteStream struct {
	e           *arrowLiteExporter
	toWrite     chan writeItem // outlives each gRPC stream, as in the contrib exporter
	outstanding atomic.Int64
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
		s := &arrowLiteStream{e: e, toWrite: make(chan writeItem)}
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

func (e *arrowLiteExporter) leastLoaded() *arrowLiteStream {
	best := e.streams[0]
	for _, s := range e.streams[1:] {
		if s.outstanding.Load() < best.outstanding.Load() {
			best = s
		}
	}
	return best
}

func (e *arrowLiteExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	var sizer ptrace.ProtoMarshaler
	item := writeItem{td: td, size: sizer.TracesSize(td)}
	for {
		item.errCh = make(chan error, 1)
		s := e.leastLoaded()
		s.outstanding.Add(1)
		select {
		case s.toWrite <- item:
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

// run keeps one gRPC stream going at a time until ctx ends.
func (s *arrowLiteStream) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.runOnce(ctx); err != nil && ctx.Err() == nil {
			s.e.set.Logger.Warn("arrow stream ended", zap.Error(err))
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

func (s *arrowLiteStream) runOnce(ctx context.Context) (retErr error) {
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
				readDone <- fmt.Errorf("unknown batch id %d", st.BatchId)
				cancel()
				return
			}
			ch <- batchStatusError(st)
		}
	}()

	var hdrs bytes.Buffer
	enc := hpack.NewEncoder(&hdrs)
	lifetime := time.NewTimer(s.e.cfg.Arrow.MaxStreamLifetime)
	defer lifetime.Stop()
	readerFinished := false
write:
	for {
		select {
		case <-lifetime.C:
			break write
		case <-sctx.Done():
			break write
		case retErr = <-readDone:
			readerFinished = true
			break write
		case it := <-s.toWrite:
			batch, err := encodeTraces(producer, it.td)
			if err != nil {
				it.errCh <- consumererror.NewPermanent(err)
				retErr = err
				break write
			}
			hdrs.Reset()
			_ = enc.WriteField(hpack.HeaderField{Name: "otlp-pdata-size", Value: strconv.Itoa(it.size)})
			batch.Headers = append([]byte(nil), hdrs.Bytes()...)
			mu.Lock()
			waiters[batch.BatchId] = it.errCh
			mu.Unlock()
			if err := client.Send(batch); err != nil {
				retErr = err
				break write
			}
		}
	}
	_ = client.CloseSend()
	if !readerFinished {
		// The receiver answers what it has and then ends the stream (io.EOF).
		select {
		case err := <-readDone:
			if retErr == nil && !errors.Is(err, io.EOF) {
				retErr = err
			}
		case <-time.After(s.e.cfg.TimeoutConfig.Timeout + time.Second):
			cancel()
			<-readDone
		}
	}
	if errors.Is(retErr, io.EOF) {
		retErr = nil
	}
	mu.Lock()
	for id, ch := range waiters {
		ch <- errStreamRestarting
		delete(waiters, id)
	}
	mu.Unlock()
	return retErr
}

func encodeTraces(p *arrowrecord.Producer, td ptrace.Traces) (batch *arrowpb.BatchArrowRecords, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the arrow producer: %v", r)
		}
	}()
	return p.BatchArrowRecordsFromTraces(td)
}

func batchStatusError(st *arrowpb.BatchStatus) error {
	switch st.StatusCode {
	case arrowpb.StatusCode_OK:
		return nil
	case arrowpb.StatusCode_UNAVAILABLE:
		return fmt.Errorf("destination unavailable: %d: %s", st.BatchId, st.StatusMessage) // retried
	default:
		return consumererror.NewPermanent(fmt.Errorf("arrow batch %d: status %v: %s",
			st.BatchId, st.StatusCode, st.StatusMessage))
	}
}

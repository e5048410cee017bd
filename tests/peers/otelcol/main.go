// otelcol-peer: a minimal OpenTelemetry Collector used as the benchmark peer of the gateway
// (scripts/bench_collector.sh, built by scripts/build_otelcol.sh). Components:
//
//	receivers:  otlp (core), otelarrow (contrib)
//	processors: batch (core)
//	exporters:  otlp, nop, debug (core), otelarrowlite (arrowexporter.go in this folder)
//
// Every collector module is at one release (core v0.148.0 / v1.54.0, contrib v0.148.0); see
// go.mod. The contrib otelarrow exporter is not served by the Go module proxy that this project
// can reach, so otelarrowlite stands in for it: the same OTel-Arrow producer
// (github.com/open-telemetry/otel-arrow/go arrow_record), the same ArrowTracesService stream and
// the same defaults (Arrow IPC payload zstd, gRPC zstd level 5 via the "zstdarrow5" compressor
// that the otelarrow receiver's package registers, NumCPU/2 streams, 30 s stream lifetime, the
// exporterhelper queue with batching 1000..1500 items). Traces only.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/nopexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/otelarrowreceiver"
)

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	if factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
		otelarrowreceiver.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		otlpexporter.NewFactory(),
		nopexporter.NewFactory(),
		debugexporter.NewFactory(),
		newArrowLiteFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	return factories, nil
}

func main() {
	info := component.BuildInfo{
		Command:     "otelcol-peer",
		Description: "otlp-arrow benchmark peer: a minimal OpenTelemetry Collector",
		Version:     "0.148.0",
	}
	settings := otelcol.CollectorSettings{
		BuildInfo: info,
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					fileprovider.NewFactory(),
					envprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatal(err)
	}
}

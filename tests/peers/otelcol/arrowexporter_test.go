package main

import (
	"errors"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestEncodeTimeoutRoundsUpToEightDigits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                 "0n",
		1500 * time.Microsecond:      "1500000n",
		99_999_999 * time.Nanosecond: "99999999n",
		100 * time.Millisecond:       "100000u",
		5 * time.Second:              "5000000u",
		4*time.Second + 1:            "4000001u",
		30 * time.Hour:               "108000S",
	} {
		if got := encodeTimeout(d); got != want {
			t.Errorf("encodeTimeout(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestAddJitterSubtractsAtMostFivePercent(t *testing.T) {
	for range 1000 {
		if got := addJitter(30 * time.Second); got > 30*time.Second || got <= 28500*time.Millisecond {
			t.Fatalf("addJitter(30s) = %v", got)
		}
	}
}

// The contrib exporter's reading of a BatchStatus: retry, drop, or drop and break the stream.
func TestBatchStatusError(t *testing.T) {
	for code, want := range map[arrowpb.StatusCode]struct {
		grpc      codes.Code
		permanent bool
		breaks    bool
	}{
		arrowpb.StatusCode_UNAVAILABLE:        {codes.Unavailable, false, false},
		arrowpb.StatusCode_INVALID_ARGUMENT:   {codes.InvalidArgument, true, false},
		arrowpb.StatusCode_RESOURCE_EXHAUSTED: {codes.ResourceExhausted, true, false},
		arrowpb.StatusCode_UNAUTHENTICATED:    {codes.Internal, true, true},
		arrowpb.StatusCode_DEADLINE_EXCEEDED:  {codes.Internal, true, true},
		arrowpb.StatusCode(99):                {codes.Internal, true, true},
	} {
		err, breaks := batchStatusError(&arrowpb.BatchStatus{BatchId: 7, StatusCode: code, StatusMessage: "m"})
		var st interface{ GRPCStatus() *status.Status }
		if !errors.As(err, &st) || st.GRPCStatus().Code() != want.grpc ||
			consumererror.IsPermanent(err) != want.permanent || breaks != want.breaks {
			t.Errorf("%v: err %v (permanent %v), breaks %v; want %+v",
				code, err, consumererror.IsPermanent(err), breaks, want)
		}
	}
	if err, breaks := batchStatusError(&arrowpb.BatchStatus{StatusCode: arrowpb.StatusCode_OK}); err != nil || breaks {
		t.Errorf("OK: %v %v", err, breaks)
	}
}

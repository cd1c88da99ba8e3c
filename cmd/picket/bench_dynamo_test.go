package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/internal/dynalite"
)

// countingAPI counts the DynamoDB calls made through it.
type countingAPI struct {
	dynamo.API
	calls atomic.Int64
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *countingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *countingAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.calls.Add(1)
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	return c.API.Query(ctx, in, o...)
}

// BenchmarkIntakeDynamoDB is BenchmarkIntakeBolt on the DynamoDB store
// (dynalite on loopback, one Node process on this machine's 2 cores):
// decode, triage and the crash-safe single-item writes of the finding, its
// outbox entry and the message mark, from 1 and from the default 32
// workers. It reports findings/s and the store round trips per finding
// (message checked and marked, finding read, outbox index, id index,
// finding written; the pipeline here reads no suppressions, which cost one
// Query per message). Against DynamoDB itself each round
// trip is a few milliseconds over the network, so findings/s there is
// about workers / (calls/finding x latency).
func BenchmarkIntakeDynamoDB(b *testing.B) {
	srv := dynalite.Shared(b)
	for _, workers := range []int{1, config.Default().Ingest.Workers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			bodies := benchBodies(b, 4000)
			api := &countingAPI{API: srv.Client()}
			db, err := dynamo.New(api, dynamo.Options{Table: srv.Table(b)})
			if err != nil {
				b.Fatal(err)
			}
			p := benchPipeline(b, db)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range workers {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						fs, err := event.Decode(bodies[i%len(bodies)])
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := p.HandleMessage(ctx, "msg-"+strconv.Itoa(i), fs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "findings/s")
			b.ReportMetric(float64(api.calls.Load())/float64(b.N), "calls/finding")
		})
	}
}

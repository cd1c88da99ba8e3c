package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/store"
)

// openStore opens the configured store: the bbolt file in data_dir
// (store.backend bolt, the default) or the DynamoDB table (dynamodb),
// with opts' logger and audit key.
func openStore(ctx context.Context, cfg config.Config, opts store.Options) (picket.Store, error) {
	if cfg.Store.Backend != config.StoreDynamoDB {
		return store.Open(storePath(cfg.DataDir), opts)
	}
	awsCfg, err := loadAWS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.Store.Region != "" {
			o.Region = cfg.Store.Region
		}
		if cfg.Store.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Store.Endpoint)
		}
	})
	s, err := dynamo.New(client, dynamo.Options{Table: cfg.Store.Table, Logger: opts.Logger, AuditKey: opts.AuditKey,
		MessageTTL: cfg.Ingest.ProcessedTTL.Duration})
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		return nil, fmt.Errorf("open store: DynamoDB table %s: %w", cfg.Store.Table, err)
	}
	if opts.Logger != nil {
		opts.Logger.Debug("store opened", "backend", "dynamodb", "table", cfg.Store.Table)
	}
	return s, nil
}

// storeName says where the configured store is, for messages.
func storeName(cfg config.Config) string {
	if cfg.Store.Backend == config.StoreDynamoDB {
		return "DynamoDB table " + cfg.Store.Table
	}
	return storePath(cfg.DataDir)
}

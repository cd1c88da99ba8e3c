package dynamo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/picketsec/picket"
)

// API is the part of the DynamoDB client the store uses; *dynamodb.Client
// implements it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// shards is how many partitions each listed kind is spread over.
const shards = 16

// DefaultMessageTTL is how long a processed message id is kept when
// Options.MessageTTL is zero: the longest SQS retention.
const DefaultMessageTTL = 14 * 24 * time.Hour

// DefaultTimeout bounds each call when Options.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Options configure New.
type Options struct {
	// Table is the table name; required.
	Table string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives operational messages; discarded when nil.
	Logger *slog.Logger
	// AuditKey seals audit entries with HMAC-SHA-256 (see store.DB.Audit:
	// the chain format is the same).
	AuditKey []byte
	// MessageTTL is how long processed message ids are remembered.
	MessageTTL time.Duration
	// Timeout bounds each DynamoDB call.
	Timeout time.Duration
}

// Store is picket.Store on a DynamoDB table. It is safe for concurrent
// use, by any number of processes sharing the table.
type Store struct {
	api        API
	table      string
	now        func() time.Time
	log        *slog.Logger
	timeout    time.Duration
	messageTTL time.Duration
	auditKey   []byte
	auditKeyID string
	lastSeq    atomic.Uint64
	closeOnce  sync.Once
}

var _ picket.Store = (*Store)(nil)

// New returns the store on the table opts.Table, which must exist (see
// CreateTable).
func New(api API, opts Options) (*Store, error) {
	if api == nil || opts.Table == "" {
		return nil, picket.Errorf(picket.EINVALID, "dynamo store: a client and a table name are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.MessageTTL <= 0 {
		opts.MessageTTL = DefaultMessageTTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Store{api: api, table: opts.Table, now: opts.Now, log: opts.Logger, timeout: opts.Timeout,
		messageTTL: opts.MessageTTL, auditKey: append([]byte(nil), opts.AuditKey...), auditKeyID: AuditKeyID(opts.AuditKey)}, nil
}

// Close does nothing: the client holds no resource that needs releasing.
func (s *Store) Close() error { return nil }

// Ping reads one item: the table exists and the role may read it.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("meta", "-")})
	if err != nil {
		return fmt.Errorf("ping table %s: %w", s.table, err)
	}
	return nil
}

// errConflict is returned by conditional writes whose condition failed.
var errConflict = errors.New("condition failed")

// maxRetries bounds optimistic read-change-write loops.
const maxRetries = 100

type item = map[string]types.AttributeValue

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func attrB(v []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }

func key(pk, sk string) item { return item{"pk": attrS(pk), "sk": attrS(sk)} }

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getB(it item, name string) []byte {
	if v, ok := it[name].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

// shard spreads a kind over its partitions: prefix#NN.
func shard(prefix, k string) string {
	h := fnv.New32a()
	h.Write([]byte(k))
	return prefix + "#" + shardName(int(h.Sum32()%shards))
}

func shardName(i int) string { return fmt.Sprintf("%02d", i) }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// get reads an item with a strongly consistent read.
func (s *Store) get(pk, sk string) (item, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, false, err
	}
	return out.Item, len(out.Item) > 0, nil
}

// cond is a condition expression with its values.
type cond struct {
	expr   string
	names  map[string]string
	values item
}

func (s *Store) put(it item, c *cond) error {
	ctx, cancel := s.ctx()
	defer cancel()
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: it}
	if c != nil {
		in.ConditionExpression = &c.expr
		if len(c.names) > 0 {
			in.ExpressionAttributeNames = c.names
		}
		if len(c.values) > 0 {
			in.ExpressionAttributeValues = c.values
		}
	}
	_, err := s.api.PutItem(ctx, in)
	return conflict(err)
}

func (s *Store) update(pk, sk, expr string, c *cond, names map[string]string, values item) (item, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	in := &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, sk), UpdateExpression: &expr,
		ReturnValues: types.ReturnValueAllNew}
	if names == nil {
		names = map[string]string{}
	}
	if values == nil {
		values = item{}
	}
	if c != nil {
		in.ConditionExpression = &c.expr
		for k, v := range c.names {
			names[k] = v
		}
		for k, v := range c.values {
			values[k] = v
		}
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	if len(values) > 0 {
		in.ExpressionAttributeValues = values
	}
	out, err := s.api.UpdateItem(ctx, in)
	if err != nil {
		return nil, conflict(err)
	}
	return out.Attributes, nil
}

func (s *Store) del(pk, sk string, c *cond) error {
	ctx, cancel := s.ctx()
	defer cancel()
	in := &dynamodb.DeleteItemInput{TableName: &s.table, Key: key(pk, sk)}
	if c != nil {
		in.ConditionExpression = &c.expr
		if len(c.names) > 0 {
			in.ExpressionAttributeNames = c.names
		}
		if len(c.values) > 0 {
			in.ExpressionAttributeValues = c.values
		}
	}
	_, err := s.api.DeleteItem(ctx, in)
	return conflict(err)
}

// conflict maps a failed condition to errConflict.
func conflict(err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return errConflict
	}
	return err
}

// queryOpts narrow a Query.
type queryOpts struct {
	from    string // sk >= from when not empty
	before  string // sk < before when not empty (with from empty)
	reverse bool
	limit   int
	filter  *cond
	count   bool
}

// query calls fn for the items of partition pk in sort key order, page by
// page, until fn returns false or an error, or limit items were seen.
func (s *Store) query(pk string, o queryOpts, fn func(item) (bool, error)) (int, error) {
	names := map[string]string{"#pk": "pk"}
	values := item{":pk": attrS(pk)}
	kc := "#pk = :pk"
	switch {
	case o.from != "":
		kc += " AND #sk >= :sk"
		names["#sk"], values[":sk"] = "sk", attrS(o.from)
	case o.before != "":
		kc += " AND #sk < :sk"
		names["#sk"], values[":sk"] = "sk", attrS(o.before)
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: &kc, ConsistentRead: aws.Bool(true),
		ScanIndexForward: aws.Bool(!o.reverse)}
	if o.filter != nil {
		in.FilterExpression = &o.filter.expr
		for k, v := range o.filter.names {
			names[k] = v
		}
		for k, v := range o.filter.values {
			values[k] = v
		}
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = names, values
	if o.count {
		in.Select = types.SelectCount
	}
	seen := 0
	for {
		if o.limit > 0 {
			in.Limit = aws.Int32(int32(o.limit - seen))
		}
		ctx, cancel := s.ctx()
		out, err := s.api.Query(ctx, in)
		cancel()
		if err != nil {
			return seen, fmt.Errorf("query %s: %w", pk, err)
		}
		if o.count {
			seen += int(out.Count)
		}
		for _, it := range out.Items {
			seen++
			more, err := fn(it)
			if err != nil || !more {
				return seen, err
			}
		}
		if len(out.LastEvaluatedKey) == 0 || (o.limit > 0 && seen >= o.limit) {
			return seen, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// queryShards runs query on every partition of a kind.
func (s *Store) queryShards(prefix string, o queryOpts, fn func(item) (bool, error)) (int, error) {
	total := 0
	for i := range shards {
		n, err := s.query(prefix+"#"+shardName(i), o, fn)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// nextSeq returns an outbox sequence number above prev: the wall clock in
// nanoseconds, kept increasing within this process, so entries of all
// processes sort roughly in the order they were written.
func (s *Store) nextSeq(prev uint64) uint64 {
	for {
		last := s.lastSeq.Load()
		n := max(uint64(time.Now().UnixNano()), last+1, prev+1)
		if s.lastSeq.CompareAndSwap(last, n) {
			return n
		}
	}
}

// utc drops the location and monotonic reading, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

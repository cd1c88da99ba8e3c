package notifiers

import "github.com/slack-go/slack"

// ContextBlock is a Block Kit context block of text elements. It encodes to
// exactly the JSON that slack.ContextBlock holding the same elements encodes
// to, but through encoding/json's reflection alone: slack.ContextBlock's
// elements marshal themselves, which costs a nested json.Marshal and a
// compaction pass of the result for every block of every message sent.
// Render and the other renderers use it in Message.Blocks.
type ContextBlock struct {
	Type     slack.MessageBlockType   `json:"type"`
	BlockID  string                   `json:"block_id,omitempty"`
	Elements []*slack.TextBlockObject `json:"elements"`
}

// BlockType returns slack.MBTContext, which makes ContextBlock a slack.Block.
func (b ContextBlock) BlockType() slack.MessageBlockType { return b.Type }

// ID returns the block_id.
func (b ContextBlock) ID() string { return b.BlockID }

// ActionBlock is a Block Kit actions block of buttons. Like ContextBlock, it
// encodes to exactly the JSON of slack.ActionBlock with the same buttons,
// without slack.ActionBlock's nested marshalling.
type ActionBlock struct {
	Type     slack.MessageBlockType      `json:"type"`
	BlockID  string                      `json:"block_id,omitempty"`
	Elements []*slack.ButtonBlockElement `json:"elements"`
}

// BlockType returns slack.MBTAction, which makes ActionBlock a slack.Block.
func (b ActionBlock) BlockType() slack.MessageBlockType { return b.Type }

// ID returns the block_id.
func (b ActionBlock) ID() string { return b.BlockID }

// newContextBlock is slack.NewContextBlock for text elements.
func newContextBlock(blockID string, elems ...*slack.TextBlockObject) *ContextBlock {
	return &ContextBlock{Type: slack.MBTContext, BlockID: blockID, Elements: elems}
}

// newActionBlock is slack.NewActionBlock for buttons.
func newActionBlock(blockID string, elems ...*slack.ButtonBlockElement) *ActionBlock {
	return &ActionBlock{Type: slack.MBTAction, BlockID: blockID, Elements: elems}
}

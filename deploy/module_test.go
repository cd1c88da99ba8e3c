package deploy_test

// This file loads a Terraform module with hashicorp/hcl and evaluates its
// expressions offline. Resources and data sources become placeholders: an
// attribute of a declared resource evaluates to the string
// "<type>.<name>.<attribute>" (for example "aws_sqs_queue.dlq.arn"), so a
// test can tell what an expression refers to, and a reference to a resource
// that is not declared fails to evaluate.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// module is one parsed Terraform module directory.
type module struct {
	dir       string
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources map[string]*hclsyntax.Block // "type.name"
	data      map[string]*hclsyntax.Block // "type.name"
	outputs   map[string]*hclsyntax.Block
	bodies    []*hclsyntax.Body
}

// placeholderAttrs are the attributes every resource placeholder has, besides
// those the module's own traversals name.
var placeholderAttrs = []string{"arn", "id", "ids", "name", "url", "key_id", "json", "account_id", "partition", "region"}

// parseModule parses every .tf file of dir; replace, when it holds a file's
// base name, stands in for that file's content (an in-memory copy a test
// has broken on purpose).
func parseModule(dir string, replace map[string]string) (*module, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	m := &module{
		dir:       dir,
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		resources: map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
		outputs:   map[string]*hclsyntax.Block{},
	}
	for _, name := range names {
		src, ok := replace[filepath.Base(name)]
		if !ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			src = string(b)
		}
		f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", name, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				m.variables[b.Labels[0]] = b
			case b.Type == "output" && len(b.Labels) == 1:
				m.outputs[b.Labels[0]] = b
			case b.Type == "resource" && len(b.Labels) == 2:
				key := b.Labels[0] + "." + b.Labels[1]
				if _, dup := m.resources[key]; dup {
					return nil, fmt.Errorf("%s: resource %s declared twice", name, key)
				}
				m.resources[key] = b
			case b.Type == "data" && len(b.Labels) == 2:
				m.data[b.Labels[0]+"."+b.Labels[1]] = b
			case b.Type == "locals":
				for n, a := range b.Body.Attributes {
					m.locals[n] = a
				}
			}
		}
	}
	return m, nil
}

// loadModule is parseModule for tests that expect the module to parse.
func loadModule(t testing.TB, dir string) *module {
	t.Helper()
	m, err := parseModule(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// functions are the Terraform functions the modules use, from cty's
// standard library where Terraform's behave the same.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"jsonencode":   stdlib.JSONEncodeFunc,
		"jsondecode":   stdlib.JSONDecodeFunc,
		"upper":        stdlib.UpperFunc,
		"lower":        stdlib.LowerFunc,
		"contains":     stdlib.ContainsFunc,
		"flatten":      stdlib.FlattenFunc,
		"merge":        stdlib.MergeFunc,
		"concat":       stdlib.ConcatFunc,
		"length":       stdlib.LengthFunc,
		"keys":         stdlib.KeysFunc,
		"split":        stdlib.SplitFunc,
		"format":       stdlib.FormatFunc,
		"try":          tryfunc.TryFunc,
		"can":          tryfunc.CanFunc,
		"file":         fileFunc,
		"startswith":   startsWithFunc,
		"replace":      replaceFunc,
		"distinct":     stdlib.DistinctFunc,
		"templatefile": templateFileFunc,
		"one":          oneFunc,
		"toset":        stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"coalescelist": stdlib.CoalesceListFunc,
	}
}

// templateFileFunc is Terraform's templatefile(): the file, relative to the
// working directory, read as a template and rendered with vars. Like
// Terraform's, it fails on a variable vars does not define.
var templateFileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "vars", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		name := args[0].AsString()
		b, err := os.ReadFile(name)
		if err != nil {
			return cty.NilVal, err
		}
		expr, diags := hclsyntax.ParseTemplate(b, name, hcl.InitialPos)
		if diags.HasErrors() {
			return cty.NilVal, fmt.Errorf("parse template %s: %s", name, diags.Error())
		}
		vars := map[string]cty.Value{}
		if !args[1].Type().IsObjectType() && !args[1].Type().IsMapType() {
			return cty.NilVal, fmt.Errorf("templatefile vars: got %s, want an object", args[1].Type().FriendlyName())
		}
		for it := args[1].ElementIterator(); it.Next(); {
			k, v := it.Element()
			vars[k.AsString()] = v
		}
		v, diags := expr.Value(&hcl.EvalContext{Variables: vars})
		if diags.HasErrors() {
			return cty.NilVal, fmt.Errorf("render template %s: %s", name, diags.Error())
		}
		if v.IsNull() || !v.Type().Equals(cty.String) {
			return cty.NilVal, fmt.Errorf("render template %s: got %s, want a string", name, v.Type().FriendlyName())
		}
		return v, nil
	},
})

// fileFunc is Terraform's file(): the content of a file, relative to the
// working directory (here the deploy directory, as `go test` runs in it).
var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := os.ReadFile(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(string(b)), nil
	},
})

// oneFunc is Terraform's one(): the only element of a list, set or tuple,
// null when it is empty, an error when it holds more.
var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.CanIterateElements() {
			return cty.NilVal, fmt.Errorf("one: got %s, want a list", v.Type().FriendlyName())
		}
		switch n := v.LengthInt(); n {
		case 0:
			return cty.NullVal(cty.DynamicPseudoType), nil
		case 1:
			return v.AsValueSlice()[0], nil
		default:
			return cty.NilVal, fmt.Errorf("one: got %d elements, want at most one", n)
		}
	},
})

var startsWithFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

// replaceFunc is Terraform's replace(): a substring, or a regular
// expression when it is written between slashes.
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}, {Name: "replace", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s, sub, rep := args[0].AsString(), args[1].AsString(), args[2].AsString()
		if len(sub) > 1 && strings.HasPrefix(sub, "/") && strings.HasSuffix(sub, "/") {
			re, err := regexp.Compile(sub[1 : len(sub)-1])
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(re.ReplaceAllString(s, rep)), nil
		}
		return cty.StringVal(strings.ReplaceAll(s, sub, rep)), nil
	},
})

// evalContext builds the context expressions are evaluated in: variables
// (their defaults, then overrides), locals, placeholders for declared
// resources and data sources, and path.module.
func (m *module) evalContext(overrides map[string]cty.Value) (*hcl.EvalContext, error) {
	vars := map[string]cty.Value{}
	for name, b := range m.variables {
		v := cty.NullVal(cty.DynamicPseudoType)
		if a, ok := b.Body.Attributes["default"]; ok {
			d, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, fmt.Errorf("default of variable %s: %s", name, diags.Error())
			}
			v = d
		}
		vars[name] = v
	}
	for name, v := range overrides {
		if _, ok := vars[name]; !ok {
			return nil, fmt.Errorf("override of undeclared variable %s", name)
		}
		vars[name] = v
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  objectOrEmpty(vars),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.dir)}),
		},
		Functions: functions(),
	}

	attrs := m.referencedAttrs()
	byType := map[string]map[string]cty.Value{}
	for key, b := range m.resources {
		typ, name, _ := strings.Cut(key, ".")
		v, err := m.placeholder(ctx, key, b, attrs[key])
		if err != nil {
			return nil, err
		}
		if byType[typ] == nil {
			byType[typ] = map[string]cty.Value{}
		}
		byType[typ][name] = v
	}
	for typ, objs := range byType {
		ctx.Variables[typ] = cty.ObjectVal(objs)
	}
	dataTypes := map[string]map[string]cty.Value{}
	for key, b := range m.data {
		typ, name, _ := strings.Cut(key, ".")
		v, err := m.placeholder(ctx, "data."+key, b, attrs["data."+key])
		if err != nil {
			return nil, err
		}
		if dataTypes[typ] == nil {
			dataTypes[typ] = map[string]cty.Value{}
		}
		dataTypes[typ][name] = v
	}
	data := map[string]cty.Value{}
	for typ, objs := range dataTypes {
		data[typ] = cty.ObjectVal(objs)
	}
	ctx.Variables["data"] = objectOrEmpty(data)

	// Locals may refer to each other: evaluate them until none is left or
	// a round makes no progress.
	locals := map[string]cty.Value{}
	pending := map[string]*hclsyntax.Attribute{}
	for n, a := range m.locals {
		pending[n] = a
	}
	for len(pending) > 0 {
		ctx.Variables["local"] = objectOrEmpty(locals)
		var lastErr error
		progress := false
		for _, n := range sortedKeys(pending) {
			v, diags := pending[n].Expr.Value(ctx)
			if diags.HasErrors() {
				lastErr = fmt.Errorf("local.%s: %s", n, diags.Error())
				continue
			}
			locals[n] = v
			delete(pending, n)
			progress = true
		}
		if !progress {
			return nil, lastErr
		}
	}
	ctx.Variables["local"] = objectOrEmpty(locals)
	return ctx, nil
}

// placeholder is the value a resource or data source evaluates to; with
// count, a tuple of as many copies as count says.
func (m *module) placeholder(ctx *hcl.EvalContext, key string, b *hclsyntax.Block, extra []string) (cty.Value, error) {
	obj := map[string]cty.Value{}
	for _, a := range append(append([]string(nil), placeholderAttrs...), extra...) {
		obj[a] = cty.StringVal(key + "." + a)
	}
	v := cty.ObjectVal(obj)
	a, ok := b.Body.Attributes["count"]
	if !ok {
		return v, nil
	}
	n, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("count of %s: %s", key, diags.Error())
	}
	var count int
	if err := gocty(n, &count); err != nil {
		return cty.NilVal, fmt.Errorf("count of %s: %w", key, err)
	}
	items := make([]cty.Value, count)
	for i := range items {
		items[i] = v
	}
	if count == 0 {
		return cty.EmptyTupleVal, nil
	}
	return cty.TupleVal(items), nil
}

func gocty(v cty.Value, out *int) error {
	if v.IsNull() || !v.Type().Equals(cty.Number) {
		return fmt.Errorf("got %s, want a number", v.Type().FriendlyName())
	}
	i, _ := v.AsBigFloat().Int64()
	*out = int(i)
	return nil
}

// referencedAttrs lists, per "type.name" (or "data.type.name"), the
// attributes the module's traversals read from it.
func (m *module) referencedAttrs() map[string][]string {
	out := map[string][]string{}
	for _, tr := range m.traversals() {
		names := traversalNames(tr)
		switch {
		case len(names) >= 4 && names[0] == "data":
			out["data."+names[1]+"."+names[2]] = append(out["data."+names[1]+"."+names[2]], names[3])
		case len(names) >= 3:
			out[names[0]+"."+names[1]] = append(out[names[0]+"."+names[1]], names[2])
		}
	}
	return out
}

// traversalNames is the attribute names of a traversal, index steps left
// out: aws_x.y[0].arn gives aws_x, y, arn.
func traversalNames(tr hcl.Traversal) []string {
	var names []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			names = append(names, s.Name)
		case hcl.TraverseAttr:
			names = append(names, s.Name)
		}
	}
	return names
}

// traversals is every variable reference in the module, with the dynamic
// block iterators that are in scope where it appears.
func (m *module) traversals() []hcl.Traversal {
	var out []hcl.Traversal
	for _, ref := range m.references() {
		out = append(out, ref.tr)
	}
	return out
}

type reference struct {
	tr        hcl.Traversal
	iterators map[string]bool // dynamic block iterators in scope
}

func (m *module) references() []reference {
	var out []reference
	var walk func(body *hclsyntax.Body, iters map[string]bool, typeExprs bool)
	walk = func(body *hclsyntax.Body, iters map[string]bool, typeExprs bool) {
		for _, a := range body.Attributes {
			if typeExprs && a.Name == "type" {
				continue // a type constraint such as list(string), not a reference
			}
			for _, tr := range a.Expr.Variables() {
				out = append(out, reference{tr, iters})
			}
		}
		for _, b := range body.Blocks {
			inner := iters
			if b.Type == "dynamic" && len(b.Labels) == 1 {
				inner = map[string]bool{b.Labels[0]: true}
				for k := range iters {
					inner[k] = true
				}
				if it, ok := b.Body.Attributes["iterator"]; ok {
					if tr, diags := hcl.AbsTraversalForExpr(it.Expr); !diags.HasErrors() {
						inner[tr.RootName()] = true
					}
				}
			}
			walk(b.Body, inner, b.Type == "variable")
		}
	}
	for _, body := range m.bodies {
		walk(body, nil, false)
	}
	return out
}

// undeclaredReferences reports every reference to a variable, local,
// resource or data source the module does not declare.
func (m *module) undeclaredReferences() []string {
	var problems []string
	seen := map[string]bool{}
	for _, ref := range m.references() {
		names := traversalNames(ref.tr)
		root := names[0]
		var problem string
		switch {
		case ref.iterators[root], root == "path", root == "count", root == "each", root == "self", root == "terraform":
		case root == "var":
			if len(names) < 2 || m.variables[names[1]] == nil {
				problem = "undeclared variable"
			}
		case root == "local":
			if len(names) < 2 || m.locals[names[1]] == nil {
				problem = "undeclared local value"
			}
		case root == "data":
			if len(names) < 3 || m.data[names[1]+"."+names[2]] == nil {
				problem = "undeclared data source"
			}
		default:
			if len(names) < 2 || m.resources[names[0]+"."+names[1]] == nil {
				problem = "undeclared resource"
			}
		}
		if problem == "" {
			continue
		}
		r := ref.tr.SourceRange()
		msg := fmt.Sprintf("%s:%d: %s %s", filepath.Base(r.Filename), r.Start.Line, problem, strings.Join(names, "."))
		if !seen[msg] {
			seen[msg] = true
			problems = append(problems, msg)
		}
	}
	sort.Strings(problems)
	return problems
}

// attr evaluates attribute name of the block (resource "type.name" or
// output name) in ctx.
func (m *module) attr(ctx *hcl.EvalContext, block *hclsyntax.Block, name string) (cty.Value, error) {
	if block == nil {
		return cty.NilVal, fmt.Errorf("block not declared")
	}
	a, ok := block.Body.Attributes[name]
	if !ok {
		return cty.NilVal, fmt.Errorf("%s %s has no attribute %s", block.Type, strings.Join(block.Labels, "."), name)
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s %s: %s: %s", block.Type, strings.Join(block.Labels, "."), name, diags.Error())
	}
	return v, nil
}

// attrString is attr for a string value.
func (m *module) attrString(ctx *hcl.EvalContext, key, name string) (string, error) {
	v, err := m.attr(ctx, m.resources[key], name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	if v.IsNull() || !v.Type().Equals(cty.String) {
		return "", fmt.Errorf("%s.%s: got %s, want a string", key, name, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

// toJSON renders an evaluated value as JSON.
func toJSON(v cty.Value) ([]byte, error) {
	return ctyjson.Marshal(v, v.Type())
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package main

import (
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// The operators. Each makes one small change a programmer could make by
// mistake; the names are part of every mutation's identity.
const (
	opCmpNegate   = "cmp-negate"      // == and !=, < and >=, > and <= swapped
	opCmpBoundary = "cmp-boundary"    // < and <=, > and >= swapped
	opLogicSwap   = "logic-swap"      // && and || swapped
	opNotRemove   = "not-remove"      // !x becomes x
	opBoolFlip    = "bool-flip"       // true and false swapped
	opIntInc      = "int-inc"         // an integer literal plus one
	opIntDec      = "int-dec"         // an integer literal minus one
	opLenInc      = "len-inc"         // len(x) becomes len(x)+1
	opLenDec      = "len-dec"         // len(x) becomes len(x)-1
	opIndexInc    = "index-inc"       // x[i] and x[i:j] with an index plus one
	opIndexDec    = "index-dec"       // ... minus one
	opRemoveCall  = "remove-call"     // a call statement (also go and defer) removed
	opIfFalse     = "if-false"        // an if condition made false
	opIfTrue      = "if-true"         // an if condition made true
	opCaseFalse   = "case-false"      // a case of a tagless switch made false
	opCaseTrue    = "case-true"       // a case of a tagless switch made true
	opErrNil      = "err-nil"         // the error a function returns becomes nil
	opRemoveBreak = "remove-break"    // a break out of a loop removed
	opRemoveCont  = "remove-continue" // a continue not at the end of its loop removed
)

// Operators lists every operator, for --help.
var Operators = []string{opCmpNegate, opCmpBoundary, opLogicSwap, opNotRemove, opBoolFlip,
	opIntInc, opIntDec, opLenInc, opLenDec, opIndexInc, opIndexDec, opRemoveCall,
	opIfFalse, opIfTrue, opCaseFalse, opCaseTrue, opErrNil, opRemoveBreak, opRemoveCont}

var (
	negated  = map[token.Token]token.Token{token.EQL: token.NEQ, token.NEQ: token.EQL, token.LSS: token.GEQ, token.GEQ: token.LSS, token.GTR: token.LEQ, token.LEQ: token.GTR}
	boundary = map[token.Token]token.Token{token.LSS: token.LEQ, token.LEQ: token.LSS, token.GTR: token.GEQ, token.GEQ: token.GTR}
)

// visitor walks one file's declarations and collects candidate mutations.
type visitor struct {
	src  []byte
	fset *token.FileSet
	file string
	fn   string // name of the declaration being walked
	out  []*Mutation
}

func (v *visitor) off(p token.Pos) int { return v.fset.Position(p).Offset }

func (v *visitor) text(n ast.Node) string { return string(v.src[v.off(n.Pos()):v.off(n.End())]) }

// emit records the mutation that replaces src[start:end] with repl; the
// snippets of its identity are those of the node around the change.
func (v *visitor) emit(op string, around ast.Node, start, end int, repl string) {
	ns, ne := v.off(around.Pos()), v.off(around.End())
	mut := string(v.src[ns:start]) + repl + string(v.src[end:ne])
	v.out = append(v.out, &Mutation{
		ID:    Identity{File: v.file, Func: v.fn, Op: op, Orig: collapse(string(v.src[ns:ne])), Mut: collapse(mut)},
		Line:  v.fset.Position(around.Pos()).Line,
		Start: start, End: end, Repl: repl,
	})
}

// replace records the mutation that replaces the node n by repl.
func (v *visitor) replace(op string, n ast.Node, repl string) {
	v.emit(op, n, v.off(n.Pos()), v.off(n.End()), repl)
}

// change records the mutation that replaces the node n by repl, named by
// the snippet of ctx, a node around n.
func (v *visitor) change(op string, n, ctx ast.Node, repl string) {
	v.emit(op, ctx, v.off(n.Pos()), v.off(n.End()), repl)
}

// contextLimit bounds the snippet context picks, in bytes.
const contextLimit = 160

// context returns the node whose source names a change to n in an
// identity: the whole expression n is part of, or the simple statement
// (return, assignment, call...) that holds it, so that a change to a "0"
// reads "return nil, 0, err" rather than "0". It stops below any node whose
// source is longer than contextLimit, and at conditions, bodies and
// function literals.
func (v *visitor) context(n ast.Node, stack []ast.Node) ast.Node {
	ctx := n
	for i := len(stack) - 1; i >= 0; i-- {
		p := stack[i]
		if v.off(p.End())-v.off(p.Pos()) > contextLimit {
			break
		}
		switch p.(type) {
		case *ast.FuncLit, *ast.CompositeLit:
			return ctx
		case ast.Expr:
			ctx = p
			continue
		case *ast.ReturnStmt, *ast.AssignStmt, *ast.ExprStmt, *ast.IncDecStmt, *ast.SendStmt,
			*ast.DeferStmt, *ast.GoStmt, *ast.ValueSpec:
			return p
		}
		break
	}
	return ctx
}

// collapse turns every run of white space into one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// decl walks one top-level declaration.
func (v *visitor) decl(d ast.Decl) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		v.fn = funcName(d)
		v.walk(d)
	case *ast.GenDecl:
		if d.Tok == token.IMPORT {
			return
		}
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				v.fn = strings.ToLower(d.Tok.String()) + ":" + s.Names[0].Name
			case *ast.TypeSpec:
				v.fn = "type:" + s.Name.Name
			}
			v.walk(s)
		}
	}
}

// funcName returns "F", "T.M" or "(*T).M".
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	star := false
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = true, s.X
	}
	switch x := t.(type) { // drop type parameters
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	name := "?"
	if id, ok := t.(*ast.Ident); ok {
		name = id.Name
	}
	if star {
		return "(*" + name + ")." + d.Name.Name
	}
	return name + "." + d.Name.Name
}

// walk visits n and everything under it, with the chain of parents.
func (v *visitor) walk(n ast.Node) {
	var stack []ast.Node
	ast.Inspect(n, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		v.visit(n, stack)
		stack = append(stack, n)
		return true
	})
}

func (v *visitor) visit(n ast.Node, stack []ast.Node) {
	var parent ast.Node
	if len(stack) > 0 {
		parent = stack[len(stack)-1]
	}
	switch n := n.(type) {
	case *ast.BinaryExpr:
		v.binary(n, v.context(n, stack))
	case *ast.UnaryExpr:
		if n.Op == token.NOT {
			p := v.off(n.OpPos)
			v.emit(opNotRemove, v.context(n, stack), p, p+1, "")
		}
	case *ast.Ident:
		if (n.Name == "true" || n.Name == "false") && !isDeclName(n, parent) {
			v.change(opBoolFlip, n, v.context(n, stack), map[string]string{"true": "false", "false": "true"}[n.Name])
		}
	case *ast.BasicLit:
		v.intLit(n, v.context(n, stack))
	case *ast.CallExpr:
		if isLen(n) {
			ctx := v.context(n, stack)
			v.change(opLenInc, n, ctx, withOffset(v.text(n), n, parent, "+1"))
			v.change(opLenDec, n, ctx, withOffset(v.text(n), n, parent, "-1"))
		}
	case *ast.IndexExpr:
		v.index(n.Index, v.context(n, stack))
	case *ast.SliceExpr:
		ctx := v.context(n, stack)
		for _, e := range []ast.Expr{n.Low, n.High, n.Max} {
			v.index(e, ctx)
		}
	case *ast.ExprStmt:
		if _, ok := n.X.(*ast.CallExpr); ok {
			v.replace(opRemoveCall, n, "")
		}
	case *ast.DeferStmt, *ast.GoStmt:
		v.replace(opRemoveCall, n, "")
	case *ast.IfStmt:
		v.guard(opIfFalse, opIfTrue, n.Cond)
	case *ast.SwitchStmt:
		if n.Tag == nil {
			for _, s := range n.Body.List {
				if cc, ok := s.(*ast.CaseClause); ok && len(cc.List) == 1 {
					v.guard(opCaseFalse, opCaseTrue, cc.List[0])
				}
			}
		}
	case *ast.ReturnStmt:
		v.errNil(n, stack)
	case *ast.BranchStmt:
		v.branch(n, stack)
	}
}

func (v *visitor) binary(n *ast.BinaryExpr, ctx ast.Node) {
	p := v.off(n.OpPos)
	w := len(n.Op.String())
	if t, ok := negated[n.Op]; ok {
		v.emit(opCmpNegate, ctx, p, p+w, t.String())
	}
	if t, ok := boundary[n.Op]; ok {
		v.emit(opCmpBoundary, ctx, p, p+w, t.String())
	}
	switch n.Op {
	case token.LAND:
		v.emit(opLogicSwap, ctx, p, p+w, "||")
	case token.LOR:
		v.emit(opLogicSwap, ctx, p, p+w, "&&")
	}
}

// isDeclName reports whether id is a name being declared (a parameter or
// variable called true, say) rather than the predeclared constant.
func isDeclName(id *ast.Ident, parent ast.Node) bool {
	switch p := parent.(type) {
	case *ast.Field:
		return slices.Contains(p.Names, id)
	case *ast.ValueSpec:
		return slices.Contains(p.Names, id)
	case *ast.TypeSpec:
		return p.Name == id
	case *ast.SelectorExpr:
		return p.Sel == id
	case *ast.KeyValueExpr:
		return p.Key == id
	}
	return false
}

func (v *visitor) intLit(n *ast.BasicLit, ctx ast.Node) {
	if n.Kind != token.INT {
		return
	}
	for _, d := range []struct {
		op    string
		delta int64
	}{{opIntInc, 1}, {opIntDec, -1}} {
		if s, ok := shiftInt(n.Value, d.delta); ok {
			v.change(d.op, n, ctx, s)
		}
	}
}

// shiftInt returns the integer literal lit plus delta, written in the same
// base; a negative result is parenthesised so that it stays one operand
// ("a-(-1)").
func shiftInt(lit string, delta int64) (string, bool) {
	val, err := strconv.ParseInt(lit, 0, 64)
	if err != nil {
		return "", false
	}
	n := val + delta
	neg := n < 0
	if neg {
		n = -n
	}
	var s string
	low := strings.ToLower(lit)
	switch {
	case strings.HasPrefix(low, "0x"):
		s = lit[:2] + strconv.FormatInt(n, 16)
	case strings.HasPrefix(low, "0o"):
		s = lit[:2] + strconv.FormatInt(n, 8)
	case strings.HasPrefix(low, "0b"):
		s = lit[:2] + strconv.FormatInt(n, 2)
	case len(lit) > 1 && lit[0] == '0':
		s = "0" + strconv.FormatInt(n, 8)
	default:
		s = strconv.FormatInt(n, 10)
	}
	if neg {
		s = "(-" + s + ")"
	}
	return s, true
}

func isLen(c *ast.CallExpr) bool {
	id, ok := c.Fun.(*ast.Ident)
	return ok && id.Name == "len" && len(c.Args) == 1
}

// withOffset returns text (the source of e) with suffix ("+1" or "-1")
// added, in parentheses when e's parent binds tighter than + or would take
// the suffix as its own right operand.
func withOffset(text string, e ast.Expr, parent ast.Node, suffix string) string {
	s := text + suffix
	switch p := parent.(type) {
	case *ast.BinaryExpr:
		prec := p.Op.Precedence()
		if prec > token.ADD.Precedence() || prec == token.ADD.Precedence() && p.Y == e {
			return "(" + s + ")"
		}
	case *ast.UnaryExpr, *ast.StarExpr, *ast.SelectorExpr:
		return "(" + s + ")"
	}
	return s
}

// index mutates an index or slice bound e, unless it is a literal or a
// len(x), which the int and len operators already change.
func (v *visitor) index(e ast.Expr, ctx ast.Node) {
	if e == nil {
		return
	}
	switch x := e.(type) {
	case *ast.BasicLit:
		return
	case *ast.CallExpr:
		if isLen(x) {
			return
		}
	}
	v.change(opIndexInc, e, ctx, v.text(e)+"+1")
	v.change(opIndexDec, e, ctx, v.text(e)+"-1")
}

// guard makes the condition cond always false or always true. The
// original condition stays in the text behind && or ||, never evaluated,
// so every variable it reads is still used and the file still compiles.
func (v *visitor) guard(opFalse, opTrue string, cond ast.Expr) {
	t := v.text(cond)
	v.replace(opFalse, cond, "false && ("+t+")")
	v.replace(opTrue, cond, "true || ("+t+")")
}

// errNil turns "return ..., X" into "return ..., nil" in a function whose
// last result is an error.
func (v *visitor) errNil(r *ast.ReturnStmt, stack []ast.Node) {
	if len(r.Results) == 0 {
		return
	}
	last := r.Results[len(r.Results)-1]
	if id, ok := last.(*ast.Ident); ok && id.Name == "nil" {
		return
	}
	var ft *ast.FuncType
	for i := len(stack) - 1; i >= 0 && ft == nil; i-- {
		switch f := stack[i].(type) {
		case *ast.FuncLit:
			ft = f.Type
		case *ast.FuncDecl:
			ft = f.Type
		}
	}
	if ft == nil || ft.Results == nil || len(ft.Results.List) == 0 {
		return
	}
	if id, ok := ft.Results.List[len(ft.Results.List)-1].Type.(*ast.Ident); !ok || id.Name != "error" {
		return
	}
	if len(r.Results) != ft.Results.NumFields() {
		return // "return f()" with f's results: there is no error operand to change
	}
	// The identity shows the whole return statement, so that "return
	// nil, err" in two places of a function tell apart by ordinal only.
	v.emit(opErrNil, r, v.off(last.Pos()), v.off(last.End()), "nil")
}

// branch removes a break that leaves a loop, or a continue that is not the
// last statement of its loop's body: elsewhere their removal changes
// nothing (a break at the end of a switch case is implicit in Go).
func (v *visitor) branch(b *ast.BranchStmt, stack []ast.Node) {
	switch b.Tok {
	case token.BREAK:
		if b.Label == nil && !breaksLoop(stack) {
			return
		}
		v.replace(opRemoveBreak, b, "")
	case token.CONTINUE:
		if len(stack) >= 2 {
			if body, ok := stack[len(stack)-1].(*ast.BlockStmt); ok && body.List[len(body.List)-1] == b {
				switch loop := stack[len(stack)-2].(type) {
				case *ast.ForStmt:
					if loop.Body == body {
						return
					}
				case *ast.RangeStmt:
					if loop.Body == body {
						return
					}
				}
			}
		}
		v.replace(opRemoveCont, b, "")
	}
}

// breaksLoop reports whether an unlabelled break under the chain stack
// leaves a for loop rather than a switch or select.
func breaksLoop(stack []ast.Node) bool {
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			return true
		case *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.FuncLit:
			return false
		}
	}
	return false
}

//! The worker's interpreter cut to the opcodes its app uses.
//!
//! AtomVM runs BEAM code as it is in the archive: its loop reads an opcode
//! byte and dispatches on it through one `br_table` of about 180 entries,
//! one per opcode, in the module's largest function. A worker runs only the
//! modules of its boot image (it has no loader, [`super::serve`]), so an
//! opcode that none of their `Code` chunks holds is never dispatched. Its
//! entry can go to the table's default (AtomVM's "Undecoded opcode" abort)
//! and the code only that entry reached becomes dead.
//!
//! [`prune`] does that and then removes what became dead:
//! - in the loop, each run of instructions that no path from the function's
//!   entry reaches any more is replaced by one `unreachable` (the block
//!   structure around it stays, so every other branch keeps its target);
//! - every function that no export, table element, start function or live
//!   function calls any more has its body replaced by `unreachable`. The
//!   function keeps its index and type, so table slots and the function
//!   pointers in the boot image stay valid. This also empties what only the
//!   stubbed loader called.
//!
//! The rest of the module is copied as it is: data, globals, table, types.
//! Reachability follows WebAssembly's structured control flow (every branch
//! names its target) and errs only towards keeping code (a call counts as
//! returning, a `br_if` as possibly taken and not), so the cut is sound
//! given the opcode set; the module is validated afterwards by the caller.

use anyhow::{bail, Context, Result};
use avm::code::Opcodes;
use std::collections::BTreeSet;
use wasm_encoder::{CodeSection, Encode, Instruction};
use wasmparser::{
    ElementItems, ElementKind, ExternalKind, FunctionBody, Operator, OperatorsReader, Parser,
    Payload, TypeRef,
};

/// What [`prune`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub wasm: Vec<u8>,
    /// Opcodes the loop handles (dispatch entries not at the default); 0
    /// for a module without an opcode dispatch, which is left uncut.
    pub handled: usize,
    /// Of those, the ones the app's code uses: still dispatched.
    pub kept: usize,
    /// Bytes of the loop's body before and after (0, 0 without a loop).
    pub loop_bytes: (usize, usize),
    /// Functions whose bodies became `unreachable`.
    pub emptied: usize,
}

/// A `br_table` this large (entries) is taken for an opcode dispatch.
const MIN_DISPATCH: usize = 128;

/// The dispatch: which function, which operator, and the opcode of entry 0.
struct Dispatch {
    func: usize,
    op: usize,
    first_opcode: i64,
}

/// One function body's operators with the byte offset each starts at, and
/// where the last one ends.
struct Ops<'a> {
    ops: Vec<(Operator<'a>, usize)>,
    locals: std::ops::Range<usize>,
    end: usize,
}

fn read_ops<'a>(body: &FunctionBody<'a>) -> Result<Ops<'a>> {
    let reader: OperatorsReader<'a> = body.get_operators_reader()?;
    let range = body.range();
    let locals = range.start as usize..reader.original_position() as usize;
    let mut ops = Vec::new();
    let mut reader = reader;
    while !reader.eof() {
        let (op, at) = reader.read_with_offset()?;
        ops.push((op, at as usize));
    }
    Ok(Ops {
        ops,
        locals,
        end: range.end as usize,
    })
}

/// `wasm` (the worker's `atomvm.wasm`) with the interpreter's dispatch cut to
/// `used` and what that leaves dead removed, as the module's docs say.
pub fn prune(
    wasm: &[u8],
    used: &Opcodes,
    unused_exports: &[&str],
    unused_slots: &BTreeSet<u32>,
) -> Result<Pruned> {
    let mut imported = 0usize;
    let mut roots: Vec<u32> = Vec::new();
    let mut bodies: Vec<FunctionBody<'_>> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("atomvm.wasm: cannot parse the module")? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import?.ty, TypeRef::Func(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func && !unused_exports.contains(&export.name) {
                        roots.push(export.index);
                    }
                }
            }
            Payload::StartSection { func, .. } => roots.push(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    let element = element?;
                    // The table slot of an active segment's first item.
                    let base = match &element.kind {
                        ElementKind::Active { offset_expr, .. } => {
                            match offset_expr.get_operators_reader().read()? {
                                Operator::I32Const { value } => Some(value as u32),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    match element.items {
                        ElementItems::Functions(funcs) => {
                            for (i, f) in funcs.into_iter().enumerate() {
                                let f = f?;
                                let slot = base.map(|b| b + i as u32);
                                if !slot.is_some_and(|s| unused_slots.contains(&s)) {
                                    roots.push(f);
                                }
                            }
                        }
                        ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                for op in expr?.get_operators_reader() {
                                    if let Operator::RefFunc { function_index } = op? {
                                        roots.push(function_index);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    if let wasmparser::TableInit::Expr(expr) = table?.init {
                        for op in expr.get_operators_reader() {
                            if let Operator::RefFunc { function_index } = op? {
                                roots.push(function_index);
                            }
                        }
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    for op in global?.init_expr.get_operators_reader() {
                        if let Operator::RefFunc { function_index } = op? {
                            roots.push(function_index);
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }

    let all: Vec<Ops<'_>> = bodies
        .iter()
        .map(read_ops)
        .collect::<Result<_>>()
        .context("atomvm.wasm: a function body")?;
    // The loop as cut, when the module has one: its function, its body, the
    // functions it still calls and its size before.
    let (mut handled, mut kept) = (0, 0);
    let cut = match find_dispatch(&all)? {
        Some(dispatch) => {
            let body = &all[dispatch.func];
            let Operator::BrTable { targets } = &body.ops[dispatch.op].0 else {
                unreachable!("find_dispatch returns a br_table");
            };
            let default = targets.default();
            let entries: Vec<u32> = targets
                .targets()
                .enumerate()
                .map(|(i, target)| {
                    let target = target?;
                    if target == default {
                        return Ok(target);
                    }
                    handled += 1;
                    let opcode = dispatch.first_opcode + i as i64;
                    Ok(if u8::try_from(opcode).is_ok_and(|op| used.contains(op)) {
                        kept += 1;
                        target
                    } else {
                        default
                    })
                })
                .collect::<Result<_>>()?;
            let (bytes, callees) = cut_dead(wasm, body, dispatch.op, &entries, default)?;
            let before = body.end - body.locals.start;
            Some((dispatch.func, bytes, callees, before))
        }
        None => None,
    };

    // Functions still called, from the roots through the live bodies (the
    // loop's as cut).
    let mut live = vec![false; imported + all.len()];
    let mut stack: Vec<u32> = roots;
    while let Some(f) = stack.pop() {
        let Some(seen) = live.get_mut(f as usize) else {
            bail!("atomvm.wasm refers to function {f}, which it does not have");
        };
        if std::mem::replace(seen, true) {
            continue;
        }
        let Some(local) = (f as usize).checked_sub(imported) else {
            continue;
        };
        match &cut {
            Some((func, _, callees, _)) if *func == local => stack.extend(callees),
            _ => stack.extend(all[local].ops.iter().filter_map(|(op, _)| called(op))),
        }
    }

    let mut code = CodeSection::new();
    let mut emptied = 0;
    for (local, body) in bodies.iter().enumerate() {
        match &cut {
            Some((func, bytes, _, _)) if *func == local => {
                code.raw(bytes);
            }
            _ if !live[imported + local] => {
                emptied += 1;
                // No locals; unreachable; end.
                code.raw(&[0x00, 0x00, 0x0b]);
            }
            _ => {
                let r = body.range();
                code.raw(&wasm[r.start as usize..r.end as usize]);
            }
        }
    }
    let out = super::serve::with_code(wasm, code)?;
    Ok(Pruned {
        wasm: out,
        handled,
        kept,
        loop_bytes: cut
            .as_ref()
            .map_or((0, 0), |(_, bytes, _, before)| (*before, bytes.len())),
        emptied,
    })
}

fn called(op: &Operator<'_>) -> Option<u32> {
    match op {
        Operator::Call { function_index }
        | Operator::ReturnCall { function_index }
        | Operator::RefFunc { function_index } => Some(*function_index),
        _ => None,
    }
}

/// The module's one opcode dispatch: the largest `br_table`, of at least
/// [`MIN_DISPATCH`] entries, indexed by a byte loaded from memory less a
/// constant (`i32.load8_u`, optionally `local.tee`, then `i32.const k;
/// i32.sub`). None when no `br_table` is that large (a stand-in runtime
/// with no interpreter: nothing to cut); any other index is refused, since
/// the runtime is then not one this build knows how to cut.
fn find_dispatch(all: &[Ops<'_>]) -> Result<Option<Dispatch>> {
    let mut best: Option<(usize, usize, usize)> = None;
    for (f, body) in all.iter().enumerate() {
        for (i, (op, _)) in body.ops.iter().enumerate() {
            if let Operator::BrTable { targets } = op {
                let n = targets.len() as usize;
                if n >= MIN_DISPATCH && best.is_none_or(|(_, _, m)| n > m) {
                    best = Some((f, i, n));
                }
            }
        }
    }
    let Some((func, op, _)) = best else {
        return Ok(None);
    };
    let before: Vec<&Operator<'_>> = all[func].ops[..op]
        .iter()
        .rev()
        .take(4)
        .map(|(o, _)| o)
        .collect();
    let first_opcode = match before.as_slice() {
        [Operator::I32Sub, Operator::I32Const { value }, Operator::LocalTee { .. }, Operator::I32Load8U { .. }]
        | [Operator::I32Sub, Operator::I32Const { value }, Operator::I32Load8U { .. }, ..] => {
            i64::from(*value)
        }
        _ => bail!(
            "atomvm.wasm's largest br_table is not indexed by an opcode byte less a constant; \
             this build cannot cut its interpreter"
        ),
    };
    Ok(Some(Dispatch {
        func,
        op,
        first_opcode,
    }))
}

/// Where a construct began, for reachability.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Loop,
    If,
    Else,
}

struct Frame {
    kind: Kind,
    /// Whether the construct's first instruction was reached.
    entered: bool,
    /// A live branch targets its end (blocks and ifs).
    targeted: bool,
    /// Whether the `then` arm falls through to the end (ifs with an else).
    then_falls: bool,
}

/// The loop's body with `br_table` number `at` given `entries`, every
/// instruction no path reaches replaced (one `unreachable` per run), and the
/// functions the new body still calls, for the call graph.
fn cut_dead(
    wasm: &[u8],
    body: &Ops<'_>,
    at: usize,
    entries: &[u32],
    default: u32,
) -> Result<(Vec<u8>, Vec<u32>)> {
    // Pass 1: which instructions are reached.
    let mut live = vec![false; body.ops.len()];
    let mut frames: Vec<Frame> = Vec::new();
    let mut reach = true;
    let target = |frames: &mut Vec<Frame>, depth: u32| -> Result<()> {
        let n = frames.len();
        let f = (depth as usize)
            .checked_add(1)
            .and_then(|d| n.checked_sub(d))
            .and_then(|i| frames.get_mut(i));
        match f {
            Some(f) => f.targeted = true,
            // The function's own label: a return.
            None if depth as usize == n => {}
            None => bail!("a branch past the function's outermost block"),
        }
        Ok(())
    };
    for (i, (op, _)) in body.ops.iter().enumerate() {
        live[i] = reach;
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                frames.push(Frame {
                    kind: match op {
                        Operator::Block { .. } => Kind::Block,
                        Operator::Loop { .. } => Kind::Loop,
                        _ => Kind::If,
                    },
                    entered: reach,
                    targeted: false,
                    then_falls: false,
                });
            }
            Operator::Else => {
                let f = frames.last_mut().context("an else outside an if")?;
                f.kind = Kind::Else;
                f.then_falls = reach;
                reach = f.entered;
            }
            Operator::End => match frames.pop() {
                Some(f) => {
                    reach = match f.kind {
                        Kind::Loop => reach,
                        Kind::Block => reach || f.targeted,
                        // Without an else, a false condition goes to the end.
                        Kind::If => reach || f.entered || f.targeted,
                        Kind::Else => reach || f.then_falls || f.targeted,
                    }
                }
                None => reach = false,
            },
            Operator::Br { relative_depth } => {
                if reach {
                    target(&mut frames, *relative_depth)?;
                }
                reach = false;
            }
            Operator::BrIf { relative_depth } if reach => {
                target(&mut frames, *relative_depth)?;
            }
            Operator::BrTable { targets } => {
                if reach {
                    if i == at {
                        for &d in entries.iter().chain([&default]) {
                            target(&mut frames, d)?;
                        }
                    } else {
                        for d in targets.targets().chain([Ok(targets.default())]) {
                            target(&mut frames, d?)?;
                        }
                    }
                }
                reach = false;
            }
            Operator::Return
            | Operator::Unreachable
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. } => reach = false,
            Operator::Try { .. }
            | Operator::TryTable { .. }
            | Operator::Catch { .. }
            | Operator::CatchAll
            | Operator::Delegate { .. }
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. }
            | Operator::BrOnNull { .. }
            | Operator::BrOnNonNull { .. }
            | Operator::BrOnCast { .. }
            | Operator::BrOnCastFail { .. } => {
                bail!("the interpreter uses {op:?}, whose control flow this cut does not follow")
            }
            _ => {}
        }
    }

    // Pass 2: write the live instructions; structure stays.
    let mut out = wasm[body.locals.clone()].to_vec();
    let mut callees = Vec::new();
    // Depth inside a construct whose start is dead: all of it goes.
    let mut dead_depth = 0usize;
    let mut in_dead_run = false;
    for (i, (op, from)) in body.ops.iter().enumerate() {
        let to = body.ops.get(i + 1).map_or(body.end, |(_, at)| *at);
        let opens = matches!(
            op,
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. }
        );
        if dead_depth > 0 {
            if opens {
                dead_depth += 1;
            } else if matches!(op, Operator::End) {
                dead_depth -= 1;
            }
            continue;
        }
        let structural = matches!(op, Operator::Else | Operator::End);
        if live[i] || structural {
            in_dead_run = false;
            if i == at {
                Instruction::BrTable(entries.into(), default).encode(&mut out);
            } else {
                out.extend_from_slice(&wasm[*from..to]);
            }
            callees.extend(called(op));
            continue;
        }
        if !in_dead_run {
            out.push(0x00);
            in_dead_run = true;
        }
        if opens {
            dead_depth = 1;
        }
    }
    Ok((out, callees))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::wasm_test::{instance, sections_but_code};

    /// An interpreter in miniature: `run` stores its argument as the opcode
    /// byte at address 0 and dispatches on it as AtomVM's loop does (byte
    /// less one, through a br_table of 140 entries). Opcode 1 answers
    /// `$one`'s 100, opcode 2 `$two`'s 200 (inside a loop and an if/else, so
    /// the cut walks both), anything else -1. `$native` sits in the table,
    /// `$boot_only` is called only by the export `_initialize`.
    fn interpreter() -> Vec<u8> {
        let rest = " $default".repeat(138);
        wat::parse_str(format!(
            r#"(module
                 (memory (export "memory") 1)
                 (table 1 funcref)
                 (elem (i32.const 0) $native)
                 (func $one (result i32) i32.const 100)
                 (func $two (result i32) i32.const 200)
                 (func $native (result i32) i32.const 7)
                 (func $boot_only (result i32) i32.const 9)
                 (func (export "_initialize") call $boot_only drop)
                 (func (export "native") (result i32) i32.const 0 call_indirect (result i32))
                 (func (export "run") (param $op i32) (result i32) (local $byte i32)
                   i32.const 0 local.get $op i32.store8
                   block $default
                     block $op2
                       block $op1
                         i32.const 0 i32.load8_u
                         local.tee $byte
                         i32.const 1 i32.sub
                         br_table $op1 $op2 {rest} $default
                       end
                       call $one
                       return
                     end
                     loop $again
                       local.get $byte i32.const 2 i32.ne br_if $again
                       local.get $byte i32.const 2 i32.eq
                       if (result i32) call $two else i32.const -2 end
                       return
                     end
                   end
                   i32.const -1))"#
        ))
        .unwrap()
    }

    fn run(wasm: &[u8], export: &str, arg: Option<i32>) -> Result<i32, wasmi::Error> {
        let (mut store, instance) = instance(wasm)?;
        let f = instance.get_func(&store, export).unwrap();
        match arg {
            Some(a) => f.typed::<i32, i32>(&store)?.call(&mut store, a),
            None => f.typed::<(), i32>(&store)?.call(&mut store, ()),
        }
    }

    fn opcodes(ops: &[u8]) -> Opcodes {
        let mut set = Opcodes::default();
        for &op in ops {
            set.insert(op);
        }
        set
    }

    #[test]
    fn every_opcode_used_runs_as_before() {
        let wasm = interpreter();
        let pruned = prune(&wasm, &opcodes(&[1, 2, 3, 7]), &[], &BTreeSet::new()).unwrap();
        assert_eq!((pruned.handled, pruned.kept, pruned.emptied), (2, 2, 0));
        for (op, answer) in [(1, 100), (2, 200), (3, -1), (200, -1)] {
            assert_eq!(run(&wasm, "run", Some(op)).unwrap(), answer);
            assert_eq!(run(&pruned.wasm, "run", Some(op)).unwrap(), answer);
        }
    }

    #[test]
    fn an_opcode_not_used_goes_to_the_default_and_its_code_and_callees_go() {
        let wasm = interpreter();
        let pruned = prune(&wasm, &opcodes(&[1]), &[], &BTreeSet::new()).unwrap();
        assert_eq!((pruned.handled, pruned.kept), (2, 1));
        assert_eq!(run(&pruned.wasm, "run", Some(1)).unwrap(), 100);
        assert_eq!(run(&pruned.wasm, "run", Some(2)).unwrap(), -1);
        // The loop, the if/else and the call of $two are one unreachable.
        assert!(
            pruned.loop_bytes.1 < pruned.loop_bytes.0 - 15,
            "{:?}",
            pruned.loop_bytes
        );
        // $two is emptied; $native stays, being in the table.
        assert_eq!(pruned.emptied, 1);
        assert_eq!(run(&pruned.wasm, "native", None).unwrap(), 7);
        // Every section but the code section is the same bytes.
        assert_eq!(sections_but_code(&pruned.wasm), sections_but_code(&wasm));
    }

    #[test]
    fn an_export_named_unused_is_emptied_with_what_only_it_calls() {
        let wasm = interpreter();
        let pruned = prune(&wasm, &opcodes(&[1, 2]), &["_initialize"], &BTreeSet::new()).unwrap();
        // _initialize and $boot_only.
        assert_eq!(pruned.emptied, 2);
        let (mut store, instance) = instance(&pruned.wasm).unwrap();
        let init = instance
            .get_typed_func::<(), ()>(&store, "_initialize")
            .unwrap();
        let trap = init.call(&mut store, ()).unwrap_err();
        assert!(trap.to_string().contains("unreachable"), "{trap}");
        assert_eq!(run(&pruned.wasm, "run", Some(2)).unwrap(), 200);
    }

    #[test]
    fn a_module_without_a_dispatch_is_left_uncut_and_another_index_refused() {
        let small = wat::parse_str(
            r#"(module
                 (func $unused)
                 (func (export "f") (param i32) block local.get 0 br_table 0 0 end))"#,
        )
        .unwrap();
        let pruned = prune(&small, &Opcodes::default(), &[], &BTreeSet::new()).unwrap();
        assert_eq!((pruned.handled, pruned.kept, pruned.emptied), (0, 0, 1));
        assert_eq!(pruned.loop_bytes, (0, 0));
        let other = wat::parse_str(format!(
            r#"(module (func (param i32) block local.get 0 br_table{} 0 end))"#,
            " 0".repeat(140)
        ))
        .unwrap();
        let err = prune(&other, &Opcodes::default(), &[], &BTreeSet::new()).unwrap_err();
        assert!(
            err.to_string().contains("not indexed by an opcode byte"),
            "{err}"
        );
    }
}

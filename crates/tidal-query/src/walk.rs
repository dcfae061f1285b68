//! Walks over [`Predicate`] trees that never recurse.
//!
//! A predicate tree can be as deep as it has operands: the parser builds a
//! flat chain `a AND b AND c ...` (which is not nesting, and which only the
//! statement's length bounds) as a left-deep tree, and the builder builds
//! trees of any shape and depth. A walk that recursed once per level would
//! overflow the stack on such a tree and abort the process. So every walk
//! keeps its own stack on the heap: the ones here — [`Predicate::depth`],
//! [`Predicate::nesting`] and the `Clone`, `PartialEq`, `Debug` and `Drop`
//! that deriving would make recursive — and the type checks, selectivity
//! and evaluation in `eval.rs` and the printer in `print.rs`.
//!
//! Nesting is limited as the parser limits it: planning refuses a
//! predicate whose [`Predicate::nesting`] is above
//! [`MAX_NESTING`](crate::MAX_NESTING), however the tree was built.

use std::fmt;

use crate::ast::{CmpOp, Literal, Predicate};
use crate::error::{QueryError, Result};
use crate::parser::MAX_NESTING;

impl Predicate {
    /// The `i`-th operand (left first) of `AND`, `OR` or `NOT`, with the
    /// lowest precedence it can have without parentheses in canonical text.
    pub(crate) fn operand(&self, i: usize) -> Option<(&Self, u8)> {
        let (operand, least) = match (self, i) {
            (Self::Or(a, _), 0) => (a, 1),
            (Self::Or(_, b), 1) | (Self::And(b, _), 0) => (b, 2),
            (Self::And(_, b), 1) | (Self::Not(b), 0) => (b, 3),
            _ => return None,
        };
        Some((operand, least))
    }

    /// Folds the tree bottom-up: `f` gets each node and the values of its
    /// operands, left first. Uses a heap stack as deep as the tree.
    pub(crate) fn fold<T>(&self, mut f: impl FnMut(&Self, Vec<T>) -> T) -> T {
        struct Frame<'p, T> {
            node: &'p Predicate,
            done: Vec<T>,
        }
        let mut stack = Vec::new();
        let mut frame = Frame { node: self, done: Vec::new() };
        loop {
            if let Some((next, _)) = frame.node.operand(frame.done.len()) {
                stack.push(frame);
                frame = Frame { node: next, done: Vec::new() };
                continue;
            }
            let value = f(frame.node, frame.done);
            match stack.pop() {
                Some(mut parent) => {
                    parent.done.push(value);
                    frame = parent;
                }
                None => return value,
            }
        }
    }

    /// The depth of the tree: 1 for a comparison, 1 more for each `AND`,
    /// `OR` and `NOT` above the deepest comparison. A flat chain of `n`
    /// operands is `n` deep; [`nesting`](Self::nesting) is what is limited.
    pub fn depth(&self) -> usize {
        self.fold(|_, operands| 1 + operands.into_iter().max().unwrap_or(0))
    }

    /// Nesting as the parser's limit counts it: the most `NOT`s and pairs
    /// of parentheses (those the canonical text needs) around any one
    /// comparison. A flat chain `a AND b AND c` is not nesting;
    /// `NOT (a OR b)` is 2 levels. Planning refuses more than
    /// [`MAX_NESTING`](crate::MAX_NESTING), as parsing does.
    pub fn nesting(&self) -> usize {
        self.fold(|node, operands| {
            let own = usize::from(matches!(node, Self::Not(_)));
            let deepest = operands
                .into_iter()
                .enumerate()
                .filter_map(|(i, levels)| {
                    node.operand(i).map(|(operand, least)| levels + usize::from(operand.precedence() < least))
                })
                .max()
                .unwrap_or(0);
            own + deepest
        })
    }

    /// A stand-in that owns no heap memory, put where an operand was taken.
    const fn hole() -> Self {
        Self::Contains { field: String::new(), value: Literal::Bool(false) }
    }

    /// A copy of this node: comparisons whole, operators over holes.
    fn copy_node(&self) -> Self {
        match self {
            Self::Compare { field, op, value } => Self::Compare { field: field.clone(), op: *op, value: value.clone() },
            Self::In { field, values, negated } => {
                Self::In { field: field.clone(), values: values.clone(), negated: *negated }
            }
            Self::Contains { field, value } => Self::Contains { field: field.clone(), value: value.clone() },
            Self::And(..) => Self::And(Box::new(Self::hole()), Box::new(Self::hole())),
            Self::Or(..) => Self::Or(Box::new(Self::hole()), Box::new(Self::hole())),
            Self::Not(_) => Self::Not(Box::new(Self::hole())),
        }
    }
}

/// Refuses a predicate nested deeper than the parser allows.
///
/// # Errors
/// [`QueryError::Invalid`] naming the limit and the predicate's nesting.
pub(crate) fn check_nesting(p: &Predicate) -> Result<()> {
    let levels = p.nesting();
    if levels > MAX_NESTING {
        return Err(QueryError::Invalid(format!(
            "predicate nested deeper than {MAX_NESTING} levels ({levels} levels of NOT and parentheses)"
        )));
    }
    Ok(())
}

impl Clone for Predicate {
    fn clone(&self) -> Self {
        let mut root = self.copy_node();
        // Each (original, copy) pair: the copy's operands are holes to fill.
        let mut todo: Vec<(&Self, &mut Self)> = vec![(self, &mut root)];
        while let Some((from, to)) = todo.pop() {
            match (from, to) {
                (Self::And(fa, fb), Self::And(ta, tb)) | (Self::Or(fa, fb), Self::Or(ta, tb)) => {
                    **ta = fa.copy_node();
                    **tb = fb.copy_node();
                    todo.push((fb, tb));
                    todo.push((fa, ta));
                }
                (Self::Not(fa), Self::Not(ta)) => {
                    **ta = fa.copy_node();
                    todo.push((fa, ta));
                }
                // Comparisons were copied whole.
                _ => {}
            }
        }
        root
    }
}

impl PartialEq for Predicate {
    fn eq(&self, other: &Self) -> bool {
        let mut todo = vec![(self, other)];
        while let Some(pair) = todo.pop() {
            let same = match pair {
                (Self::Compare { field: f1, op: o1, value: v1 }, Self::Compare { field: f2, op: o2, value: v2 }) => {
                    f1 == f2 && o1 == o2 && v1 == v2
                }
                (Self::In { field: f1, values: v1, negated: n1 }, Self::In { field: f2, values: v2, negated: n2 }) => {
                    f1 == f2 && v1 == v2 && n1 == n2
                }
                (Self::Contains { field: f1, value: v1 }, Self::Contains { field: f2, value: v2 }) => {
                    f1 == f2 && v1 == v2
                }
                (Self::And(a1, b1), Self::And(a2, b2)) | (Self::Or(a1, b1), Self::Or(a2, b2)) => {
                    todo.push((b1, b2));
                    todo.push((a1, a2));
                    true
                }
                (Self::Not(a1), Self::Not(a2)) => {
                    todo.push((a1, a2));
                    true
                }
                _ => false,
            };
            if !same {
                return false;
            }
        }
        true
    }
}

/// A comparison as `#[derive(Debug)]` on [`Predicate`] would print it.
#[derive(Debug)]
#[allow(dead_code)] // Reason: the fields are read by the derived `Debug` only, which is their purpose.
enum Leaf<'p> {
    Compare { field: &'p str, op: CmpOp, value: &'p Literal },
    In { field: &'p str, values: &'p [Literal], negated: bool },
    Contains { field: &'p str, value: &'p Literal },
}

/// Prints what `#[derive(Debug)]` would, `{:#?}` included.
impl fmt::Debug for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        enum Step<'p> {
            Node(&'p Predicate, usize),
            Text(&'static str),
            Indent(usize),
        }
        let pretty = f.alternate();
        let mut todo = vec![Step::Node(self, 0)];
        while let Some(step) = todo.pop() {
            let (node, level) = match step {
                Step::Text(s) => {
                    f.write_str(s)?;
                    continue;
                }
                Step::Indent(level) => {
                    write!(f, "{:1$}", "", level * 4)?;
                    continue;
                }
                Step::Node(node, level) => (node, level),
            };
            let leaf = match node {
                Predicate::Compare { field, op, value } => Leaf::Compare { field, op: *op, value },
                Predicate::In { field, values, negated } => Leaf::In { field, values, negated: *negated },
                Predicate::Contains { field, value } => Leaf::Contains { field, value },
                Predicate::And(..) | Predicate::Or(..) | Predicate::Not(_) => {
                    let name = match node {
                        Predicate::And(..) => "And",
                        Predicate::Or(..) => "Or",
                        _ => "Not",
                    };
                    write!(f, "{name}(")?;
                    let operands: Vec<&Predicate> = (0..2).filter_map(|i| node.operand(i).map(|o| o.0)).collect();
                    todo.push(Step::Text(")"));
                    if pretty {
                        f.write_str("\n")?;
                        todo.push(Step::Indent(level));
                        for operand in operands.into_iter().rev() {
                            todo.push(Step::Text(",\n"));
                            todo.push(Step::Node(operand, level + 1));
                            todo.push(Step::Indent(level + 1));
                        }
                    } else {
                        for (i, operand) in operands.into_iter().enumerate().rev() {
                            todo.push(Step::Node(operand, level));
                            if i > 0 {
                                todo.push(Step::Text(", "));
                            }
                        }
                    }
                    continue;
                }
            };
            if pretty {
                let text = format!("{leaf:#?}");
                let indent = format!("\n{:1$}", "", level * 4);
                f.write_str(&text.replace('\n', &indent))?;
            } else {
                write!(f, "{leaf:?}")?;
            }
        }
        Ok(())
    }
}

impl Drop for Predicate {
    /// Takes the operators' operands out onto a heap stack before they
    /// drop, so no drop recurses (a derived drop would, once per level).
    fn drop(&mut self) {
        let mut todo = Vec::new();
        self.detach_operators(&mut todo);
        while let Some(mut next) = todo.pop() {
            next.detach_operators(&mut todo);
        }
    }
}

impl Predicate {
    /// Moves the operands that are themselves operators into `out`,
    /// leaving holes; comparisons stay (they drop without recursing).
    fn detach_operators(&mut self, out: &mut Vec<Self>) {
        let (a, b) = match self {
            Self::And(a, b) | Self::Or(a, b) => (a, Some(b)),
            Self::Not(a) => (a, None),
            Self::Compare { .. } | Self::In { .. } | Self::Contains { .. } => return,
        };
        for operand in std::iter::once(a).chain(b) {
            if matches!(**operand, Self::And(..) | Self::Or(..) | Self::Not(_)) {
                out.push(std::mem::replace(&mut **operand, Self::hole()));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::parser::parse_retrieve;

    /// What `#[derive(Clone, Debug, PartialEq)]` on `Predicate` would be.
    #[derive(Clone, Debug, PartialEq)]
    enum Derived {
        Compare { field: String, op: CmpOp, value: Literal },
        In { field: String, values: Vec<Literal>, negated: bool },
        Contains { field: String, value: Literal },
        And(Box<Derived>, Box<Derived>),
        Or(Box<Derived>, Box<Derived>),
        Not(Box<Derived>),
    }

    fn derived(p: &Predicate) -> Derived {
        match p {
            Predicate::Compare { field, op, value } => {
                Derived::Compare { field: field.clone(), op: *op, value: value.clone() }
            }
            Predicate::In { field, values, negated } => {
                Derived::In { field: field.clone(), values: values.clone(), negated: *negated }
            }
            Predicate::Contains { field, value } => Derived::Contains { field: field.clone(), value: value.clone() },
            Predicate::And(a, b) => Derived::And(Box::new(derived(a)), Box::new(derived(b))),
            Predicate::Or(a, b) => Derived::Or(Box::new(derived(a)), Box::new(derived(b))),
            Predicate::Not(a) => Derived::Not(Box::new(derived(a))),
        }
    }

    fn predicate() -> impl Strategy<Value = Predicate> {
        let literal = prop_oneof![
            "[a-z']{0,3}".prop_map(Literal::Str),
            any::<i64>().prop_map(Literal::Int),
            (-1e3..1e3f64).prop_map(Literal::Float),
            any::<bool>().prop_map(Literal::Bool),
        ];
        let leaf = prop_oneof![
            ("[a-z]{1,3}", literal.clone()).prop_map(|(f, v)| Predicate::field(f).gt(v)),
            ("[a-z]{1,3}", prop::collection::vec(literal.clone(), 1..3), any::<bool>())
                .prop_map(|(field, values, negated)| Predicate::In { field, values, negated }),
            ("[a-z]{1,3}", literal).prop_map(|(f, v)| Predicate::field(f).contains(v)),
        ];
        leaf.prop_recursive(6, 32, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
                inner.prop_map(Predicate::negate),
            ]
        })
    }

    proptest! {
        #[test]
        fn clone_eq_and_debug_are_what_deriving_would_give(p in predicate(), q in predicate()) {
            prop_assert_eq!(format!("{p:?}"), format!("{:?}", derived(&p)));
            prop_assert_eq!(format!("{p:#?}"), format!("{:#?}", derived(&p)));
            prop_assert_eq!(derived(&p.clone()), derived(&p));
            prop_assert_eq!(p == q, derived(&p) == derived(&q));
            prop_assert!(p == p.clone());
        }

        #[test]
        fn nesting_is_what_the_parser_counts_in_the_canonical_text(p in predicate()) {
            // The parser's count, measured with its own limit: wrapped in
            // `m` more parentheses, the text parses while m + nesting <= 64.
            let n = p.nesting();
            let wrapped = |m: usize| format!("RETRIEVE items WHERE {}{p}{}", "(".repeat(m), ")".repeat(m));
            prop_assert!(parse_retrieve(&wrapped(MAX_NESTING - n)).is_ok());
            prop_assert!(parse_retrieve(&wrapped(MAX_NESTING - n + 1)).is_err());
        }
    }

    #[test]
    fn nesting_counts_nots_and_needed_parentheses_only() {
        let pred = |s: &str| parse_retrieve(&format!("RETRIEVE items WHERE {s}")).unwrap().predicate.unwrap();
        for (text, nesting, depth) in [
            ("a = 1", 0, 1),
            ("((a = 1))", 0, 1),
            ("a = 1 AND b = 2 AND c = 3 OR d = 4", 0, 4),
            ("NOT a = 1", 1, 2),
            ("NOT (a = 1 AND b = 2)", 2, 3),
            ("a = 1 AND (b = 2 OR NOT (c = 3 OR d = 4))", 3, 5),
        ] {
            let p = pred(text);
            assert_eq!((p.nesting(), p.depth()), (nesting, depth), "{text}");
        }
    }
}

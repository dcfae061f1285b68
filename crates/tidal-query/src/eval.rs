//! `WHERE` predicates: checked against the schema at plan time (known
//! fields, comparable types), estimated for selectivity, and evaluated on
//! an item's fields.
//!
//! Semantics: an item that lacks a field fails every comparison on it,
//! `!=` included (as SQL's NULL does); `NOT` inverts whatever its operand
//! gives. Strings compare by bytes; integers and floats compare as numbers;
//! timestamps compare with seconds since the epoch or `<duration> AGO`;
//! references compare with ids or string keys.

use std::cmp::Ordering;

use tidal_schema::{EntityKind, FieldType, FieldValue, Fields, Schema, Timestamp};

use crate::ast::{CmpOp, Literal, Predicate};
use crate::error::{QueryError, Result};
use crate::key::Key;

/// Checks every field and literal of `p` against the item schema, the
/// comparisons left to right (the first problem is reported).
pub(crate) fn check(p: &Predicate, schema: &Schema) -> Result<()> {
    let field_type = |field: &str| {
        schema.field(EntityKind::Item, field).map(|f| &f.ty).ok_or_else(|| {
            let known: Vec<&str> = schema.entity(EntityKind::Item).fields.iter().map(|f| f.name.as_str()).collect();
            QueryError::Invalid(format!("unknown item field {field:?} (fields: {})", known.join(", ")))
        })
    };
    // A heap stack, not recursion: the tree may be deeper than the stack.
    let mut todo = vec![p];
    while let Some(p) = todo.pop() {
        match p {
            Predicate::Compare { field, op, value } => comparable(field, field_type(field)?, Some(*op), value)?,
            Predicate::In { field, values, .. } => {
                let ty = field_type(field)?;
                values.iter().try_for_each(|v| comparable(field, ty, None, v))?;
            }
            Predicate::Contains { field, value } => match (field_type(field)?, value) {
                (FieldType::Tags, Literal::Str(_)) => {}
                (FieldType::Tags, v) => {
                    return Err(QueryError::Invalid(format!("{field} CONTAINS needs a quoted tag, not {v}")));
                }
                (ty, _) => {
                    return Err(QueryError::Invalid(format!(
                        "CONTAINS applies to tags fields; {field} is {}",
                        ty.type_name()
                    )));
                }
            },
            Predicate::And(a, b) | Predicate::Or(a, b) => {
                todo.push(b);
                todo.push(a);
            }
            Predicate::Not(a) => todo.push(a),
        }
    }
    Ok(())
}

/// Whether `value` can be compared with a field of type `ty` (by `op`, or
/// for equality when `op` is `None`).
fn comparable(field: &str, ty: &FieldType, op: Option<CmpOp>, value: &Literal) -> Result<()> {
    let ordered = op.is_some_and(|op| !matches!(op, CmpOp::Eq | CmpOp::Ne));
    let ok = match ty {
        FieldType::Text { .. } | FieldType::Keyword => matches!(value, Literal::Str(_)),
        FieldType::Integer | FieldType::Float => matches!(value, Literal::Int(_) | Literal::Float(_)),
        FieldType::Timestamp => matches!(value, Literal::Int(_) | Literal::Float(_) | Literal::Ago(_)),
        FieldType::Bool => matches!(value, Literal::Bool(_)) && !ordered,
        FieldType::Reference { .. } => matches!(value, Literal::Int(_) | Literal::Str(_)) && !ordered,
        FieldType::Tags | FieldType::Vector { .. } => false,
    };
    if ok {
        return Ok(());
    }
    let what = match ty {
        FieldType::Tags => format!("{field} is a tags field: use {field} CONTAINS '<tag>'"),
        FieldType::Vector { .. } => format!("{field} is a vector field and cannot be compared"),
        _ => match op {
            Some(op) => format!("{field} ({}) cannot be compared by {op} with {value}", ty.type_name()),
            None => format!("{field} ({}) cannot be compared with {value}", ty.type_name()),
        },
    };
    Err(QueryError::Invalid(what))
}

/// The estimated fraction of items `p` keeps: System R's default
/// selectivities (equality 1/10, ranges 1/3, `!=` 9/10), combined as if
/// independent. tidalDB keeps no per-field histograms yet.
pub(crate) fn selectivity(p: &Predicate) -> f64 {
    p.fold(|node, operands: Vec<f64>| match node {
        Predicate::Compare { op: CmpOp::Eq, .. } | Predicate::Contains { .. } => 0.1,
        Predicate::Compare { op: CmpOp::Ne, .. } => 0.9,
        Predicate::Compare { .. } => 1.0 / 3.0,
        Predicate::In { values, negated, .. } => {
            // Reason: a list length, far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let hit = (0.1 * values.len() as f64).min(1.0);
            if *negated { 1.0 - hit } else { hit }
        }
        Predicate::And(..) => operands.iter().product(),
        Predicate::Or(..) => operands.iter().fold(0.0, |left, right| left + right - left * right),
        Predicate::Not(_) => 1.0 - operands.iter().sum::<f64>(),
    })
}

/// Whether an item with `fields` satisfies `p` at query time `now`.
///
/// Operands are evaluated left to right and only as far as needed (`AND`
/// stops at the first false, `OR` at the first true), with a heap stack of
/// what is left to do instead of recursion.
pub(crate) fn eval(p: &Predicate, fields: &Fields, now: Timestamp) -> bool {
    enum Step<'p> {
        /// Evaluate this predicate.
        Eval(&'p Predicate),
        /// The left operand of an `AND` gave the value: if true, evaluate the right.
        AndThen(&'p Predicate),
        /// The left operand of an `OR` gave the value: if false, evaluate the right.
        OrElse(&'p Predicate),
        /// Invert the value.
        Not,
    }
    let mut todo = vec![Step::Eval(p)];
    let mut value = false;
    while let Some(step) = todo.pop() {
        match step {
            Step::Eval(Predicate::And(a, b)) => {
                todo.push(Step::AndThen(b));
                todo.push(Step::Eval(a));
            }
            Step::Eval(Predicate::Or(a, b)) => {
                todo.push(Step::OrElse(b));
                todo.push(Step::Eval(a));
            }
            Step::Eval(Predicate::Not(a)) => {
                todo.push(Step::Not);
                todo.push(Step::Eval(a));
            }
            Step::Eval(leaf) => value = holds_for(leaf, fields, now),
            Step::AndThen(b) if value => todo.push(Step::Eval(b)),
            Step::OrElse(b) if !value => todo.push(Step::Eval(b)),
            Step::AndThen(_) | Step::OrElse(_) => {}
            Step::Not => value = !value,
        }
    }
    value
}

/// Whether a comparison holds (an operator node is not one: false).
fn holds_for(p: &Predicate, fields: &Fields, now: Timestamp) -> bool {
    match p {
        Predicate::Compare { field, op, value } => {
            fields.get(field).and_then(|v| compare(v, value, now)).is_some_and(|o| holds(*op, o))
        }
        Predicate::In { field, values, negated } => match fields.get(field) {
            None => false,
            Some(v) => values.iter().any(|x| compare(v, x, now) == Some(Ordering::Equal)) != *negated,
        },
        Predicate::Contains { field, value } => match (fields.get(field), value) {
            (Some(FieldValue::Tags(tags)), Literal::Str(tag)) => tags.iter().any(|t| t == tag),
            _ => false,
        },
        Predicate::And(..) | Predicate::Or(..) | Predicate::Not(_) => false,
    }
}

const fn holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o.is_eq(),
        CmpOp::Ne => o.is_ne(),
        CmpOp::Lt => o.is_lt(),
        CmpOp::Le => o.is_le(),
        CmpOp::Gt => o.is_gt(),
        CmpOp::Ge => o.is_ge(),
    }
}

/// `value` compared with `literal`; `None` when they do not compare.
fn compare(value: &FieldValue, literal: &Literal, now: Timestamp) -> Option<Ordering> {
    match (value, literal) {
        (FieldValue::Text(s) | FieldValue::Keyword(s), Literal::Str(l)) => Some(s.as_str().cmp(l.as_str())),
        (FieldValue::Integer(n), Literal::Int(l)) => Some(n.cmp(l)),
        // Reason: comparing an integer with a float is a float comparison.
        #[allow(clippy::cast_precision_loss)]
        (FieldValue::Integer(n), Literal::Float(l)) => (*n as f64).partial_cmp(l),
        // Reason: as above.
        #[allow(clippy::cast_precision_loss)]
        (FieldValue::Float(x), Literal::Int(l)) => x.partial_cmp(&(*l as f64)),
        (FieldValue::Float(x), Literal::Float(l)) => x.partial_cmp(l),
        (FieldValue::Timestamp(t), Literal::Int(secs)) => {
            let l = u64::try_from(*secs).ok().map_or(0, |s| s.saturating_mul(1_000_000_000));
            Some(t.as_nanos().cmp(&l))
        }
        (FieldValue::Timestamp(t), Literal::Float(secs)) => {
            // Reason: nanoseconds since the epoch fit an f64 to within a microsecond.
            #[allow(clippy::cast_precision_loss)]
            let nanos = t.as_nanos() as f64;
            nanos.partial_cmp(&(secs * 1e9))
        }
        (FieldValue::Timestamp(t), Literal::Ago(d)) => Some(t.cmp(&now.saturating_sub(*d))),
        (FieldValue::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (FieldValue::Reference(id), Literal::Int(l)) => u64::try_from(*l).ok().map(|l| id.0.cmp(&l)),
        (FieldValue::Reference(id), Literal::Str(key)) => Some(id.cmp(&Key::id_for(key))),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use tidal_schema::presets;

    use super::*;
    use crate::parser::parse_retrieve;

    fn pred(s: &str) -> Predicate {
        parse_retrieve(&format!("RETRIEVE items WHERE {s}")).unwrap().predicate.unwrap()
    }

    #[test]
    fn checks_fields_and_types() {
        let schema = presets::content_feed();
        assert!(check(&pred("format = 'short' AND duration > 30"), &schema).is_ok());
        assert!(check(&pred("tags CONTAINS 'jazz'"), &schema).is_ok());
        let err = |s: &str| check(&pred(s), &schema).unwrap_err().to_string();
        assert!(err("nope = 1").contains("unknown item field \"nope\""));
        assert!(err("format = 3").contains("cannot be compared"));
        assert!(err("tags = 'x'").contains("CONTAINS"));
        assert!(err("format CONTAINS 'x'").contains("applies to tags"));
    }

    #[test]
    fn evaluates_with_sql_like_missing_fields() {
        let mut f = Fields::new();
        f.insert("format".into(), FieldValue::Keyword("short".into()));
        f.insert("duration".into(), FieldValue::Float(42.0));
        f.insert("tags".into(), FieldValue::Tags(vec!["jazz".into(), "live".into()]));
        f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(1_000)));
        let now = Timestamp::from_secs(2_000);
        let yes = |s: &str| eval(&pred(s), &f, now);
        assert!(yes("format = 'short'"));
        assert!(yes("duration > 41 AND duration <= 42.0"));
        assert!(yes("format IN ('long', 'short')"));
        assert!(!yes("format NOT IN ('long', 'short')"));
        assert!(yes("tags CONTAINS 'live'"));
        assert!(yes("published_at < 900s AGO AND published_at >= 1000"));
        assert!(!yes("title = 'x'"));
        assert!(!yes("title != 'x'"));
        assert!(yes("NOT title = 'x'"));
        assert!(yes("(format = 'long' OR duration > 10) AND NOT format = 'long'"));
    }

    #[test]
    fn selectivity_combines_independently() {
        assert!((selectivity(&pred("a = 1 AND b = 2")) - 0.01).abs() < 1e-12);
        assert!((selectivity(&pred("a = 1 OR b = 2")) - 0.19).abs() < 1e-12);
        assert!((selectivity(&pred("NOT a IN (1, 2)")) - 0.8).abs() < 1e-12);
    }
}

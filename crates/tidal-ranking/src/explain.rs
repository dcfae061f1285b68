//! Ranked results and their explanations: each stage's contribution, so
//! EXPLAIN can show why an item ranks where it does.

use std::fmt;

use tidal_schema::EntityId;

/// One ranked item.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// The item.
    pub id: EntityId,
    /// Its final score (always finite). Results are ordered by score,
    /// highest first, ties by id, except where diversity or exploration
    /// moved an item (its explanation says so).
    pub score: f64,
    /// Why, when the request asked for explanations.
    pub explanation: Option<Explanation>,
}

/// The stages of one item's score.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Explanation {
    /// Contributions in evaluation order.
    pub stages: Vec<Contribution>,
    /// Where the item landed and why (diversity, exploration).
    pub placement: Placement,
}

/// How an item got its slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// In score order.
    #[default]
    ByScore,
    /// Picked by a diversity rule ahead of higher-scored items.
    Diversified,
    /// A cold-start exploration slot.
    Explored,
    /// Over a diversity cap, used because too few items met the caps.
    CapRelaxed,
}

/// One stage's share of a score.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    /// The stage, e.g. `boost like decayed log1p`.
    pub stage: String,
    /// The raw view value the stage read.
    pub raw: f64,
    /// What it added to the score (or, for multiplicative stages, the
    /// factor applied).
    pub value: f64,
    /// How `value` combines: added, or multiplied into the score.
    pub op: Op,
}

/// How a contribution combines with the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Added to the score.
    Add,
    /// A factor the score was multiplied by (penalties on rates).
    Multiply,
    /// Informational: the sort key, a gate that passed.
    Note,
}

impl Explanation {
    pub(crate) fn add(&mut self, stage: impl Into<String>, raw: f64, value: f64) {
        self.stages.push(Contribution { stage: stage.into(), raw, value, op: Op::Add });
    }

    pub(crate) fn multiply(&mut self, stage: impl Into<String>, raw: f64, factor: f64) {
        self.stages.push(Contribution { stage: stage.into(), raw, value: factor, op: Op::Multiply });
    }

    pub(crate) fn note(&mut self, stage: impl Into<String>, raw: f64) {
        self.stages.push(Contribution { stage: stage.into(), raw, value: raw, op: Op::Note });
    }
}

impl fmt::Display for Explanation {
    /// One line per stage: `stage  raw → value`, then the placement.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.stages {
            let op = match c.op {
                Op::Add => "+",
                Op::Multiply => "×",
                Op::Note => "=",
            };
            writeln!(f, "{:<40} raw {:>12.6} {op} {:.6}", c.stage, c.raw, c.value)?;
        }
        let placement = match self.placement {
            Placement::ByScore => "by score",
            Placement::Diversified => "moved up by diversity",
            Placement::Explored => "exploration slot",
            Placement::CapRelaxed => "diversity cap relaxed (too few items)",
        };
        write!(f, "placement: {placement}")
    }
}

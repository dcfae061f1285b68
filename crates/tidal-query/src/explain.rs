//! `EXPLAIN` output: the plan's stages, and with `ANALYZE` each stage's
//! rows and time and each result's ranking contributions.

use std::fmt::Write as _;

use crate::exec::{Page, StageStats};
use crate::plan::Plan;

/// Renders `plan`; with `analysis`, the executed page and its stage stats.
pub fn render_explain(plan: &Plan, analysis: Option<(&Page, &[StageStats])>) -> String {
    let stages = plan.stages();
    let mut out = String::new();
    let _ = writeln!(out, "{}", plan.query);
    let _ = write!(out, "plan at {} (seed {})", plan.at.as_secs(), plan.seed);

    let aligned = analysis.filter(|(_, stats)| {
        stats.len() == stages.len() && stats.iter().zip(&stages).all(|(s, (name, _))| s.stage == *name)
    });
    for (i, (name, detail)) in stages.iter().enumerate() {
        let _ = write!(out, "\n  {}. {name:<8} {detail}", i + 1);
        if let Some((_, stats)) = aligned {
            let s = &stats[i];
            let _ = write!(out, "  [rows {}, {:.3} ms]", s.rows, s.micros / 1000.0);
        }
    }
    let _ = write!(
        out,
        "\n  signals as of {}: from the ledger where it covers that time, else the hourly rollups (exact at whole \
         hours), else refused; a window W counts the events in (T-W, T], at most one bucket older, exactly on \
         bucket boundaries and at whole hours",
        plan.at.as_secs()
    );
    if let Some((page, stats)) = analysis {
        if aligned.is_none() {
            for s in stats {
                let _ = write!(out, "\n  ran {:<8} [rows {}, {:.3} ms]", s.stage, s.rows, s.micros / 1000.0);
            }
        }
        let total = page.tier_totals();
        let _ = write!(
            out,
            "\nsignal reads: {} from the ledger (hot/warm), {} from the rollups (cold)",
            total.ledger, total.rollups
        );
        for (what, used) in &page.tiers {
            let _ = write!(out, "\n  {what}: {} ledger, {} rollups", used.ledger, used.rollups);
        }
        let total: f64 = stats.iter().map(|s| s.micros).sum();
        let _ = write!(
            out,
            "\n{} results from {} candidates in {:.3} ms",
            page.hits.len(),
            page.candidates,
            total / 1000.0
        );
        for (i, hit) in page.hits.iter().enumerate() {
            match &hit.key {
                Some(key) => {
                    let _ = write!(out, "\n  {:>3}. item {key:?} ({}) score {:.6}", i + 1, hit.id, hit.score);
                }
                None => {
                    let _ = write!(out, "\n  {:>3}. item {} score {:.6}", i + 1, hit.id, hit.score);
                }
            }
            if let Some(e) = &hit.explanation {
                for line in e.to_string().lines() {
                    let _ = write!(out, "\n        {line}");
                }
            }
        }
    }
    out
}

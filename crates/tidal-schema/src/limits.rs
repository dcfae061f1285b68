//! The schema's size limits, in one place so docs, validation and tests agree.

/// Longest name (field, signal, profile, cohort, relationship, segment), in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Most fields one entity kind may declare.
pub const MAX_FIELDS: usize = 256;
/// Most signal types.
pub const MAX_SIGNALS: usize = 1024;
/// Most windows one signal may keep.
pub const MAX_WINDOWS: usize = 8;
/// Most relationship types.
pub const MAX_RELATIONSHIPS: usize = 256;
/// Most profiles.
pub const MAX_PROFILES: usize = 256;
/// Most stages of one list (boosts, penalties, gates, diversity rules) in a profile.
pub const MAX_STAGE_ITEMS: usize = 64;
/// Most cohort definitions.
pub const MAX_COHORTS: usize = 64;
/// Most dimensions, composites or segments in one cohort.
pub const MAX_COHORT_PARTS: usize = 32;
/// Largest vector dimension.
pub const MAX_VECTOR_DIMENSION: u32 = 4096;
/// Largest text, keyword or single tag value, in bytes.
pub const MAX_STRING_BYTES: usize = 1 << 20;
/// Most tags in one tags value.
pub const MAX_TAGS: usize = 1024;
/// Largest weight or boost magnitude anywhere in a schema.
pub const MAX_WEIGHT: f64 = 1e9;
/// Longest entity key (the application's string name of an entity), in bytes.
pub const MAX_KEY_BYTES: usize = 512;

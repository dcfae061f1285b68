//! Import records into checked rows: a JSON Lines object or a CSV record
//! becomes an entity, an edge or a signal event, checked as the facade
//! would check it (fields through [`tidal::json`], signal and relationship
//! names against the schema, weights and times against the input bounds,
//! keys non-empty and at most 512 bytes), so bad rows are found while
//! parsing and whole batches are rarely refused.

use std::sync::Arc;

use serde_json::{Map, Number, Value};
use tidal::schema::{EntityKind, FieldDef, FieldType, Fields, Schema};
use tidal::{Event, InputBounds, Key, Timestamp};

/// The kinds of record an import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// An item: `key` and `fields`.
    Item,
    /// A user: `key` and `fields`.
    User,
    /// A creator: `key` and `fields`.
    Creator,
    /// A signal event.
    Signal,
    /// A relationship edge.
    Relationship,
}

impl Kind {
    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "item" => Self::Item,
            "user" => Self::User,
            "creator" => Self::Creator,
            "signal" => Self::Signal,
            "relationship" => Self::Relationship,
            other => {
                return Err(format!("unknown kind {other:?} (expected item, user, creator, signal or relationship)"));
            }
        })
    }

    /// The entity kind, for the three entity kinds.
    pub(crate) const fn entity(self) -> Option<EntityKind> {
        match self {
            Self::Item => Some(EntityKind::Item),
            Self::User => Some(EntityKind::User),
            Self::Creator => Some(EntityKind::Creator),
            Self::Signal | Self::Relationship => None,
        }
    }
}

/// The longest entity key, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 512;
/// The longest idempotency key the log stores, in bytes.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// One checked row.
#[derive(Debug)]
pub(crate) enum Row {
    /// An entity write, with the keys its reference fields name (stored in
    /// the same append, so results show the referred entities by key).
    Entity(EntityKind, Key, Fields, Vec<Key>),
    /// An edge of a relationship type.
    Edge(String, Key, Key, f64),
    /// A signal event.
    Signal(Event),
}

/// What rows are checked against.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) schema: Arc<Schema>,
    pub(crate) bounds: InputBounds,
    /// The time future event times are measured from.
    pub(crate) now: Timestamp,
    /// The kind of a JSON Lines record without `"kind"`.
    pub(crate) default_kind: Option<Kind>,
}

/// A checked entity key.
pub(crate) fn key(value: &str, what: &str) -> Result<Key, String> {
    if value.is_empty() {
        return Err(format!("empty {what} key"));
    }
    if value.len() > MAX_KEY_BYTES {
        return Err(format!("{what} key of {} bytes (at most {MAX_KEY_BYTES})", value.len()));
    }
    Ok(Key::from(value))
}

impl Rules {
    /// A checked signal event.
    pub(crate) fn signal(
        &self,
        signal: &str,
        target: &str,
        user: Option<&str>,
        at: Option<Timestamp>,
        weight: Option<f64>,
        idempotency_key: Option<&str>,
    ) -> Result<Event, String> {
        if self.schema.signal(signal).is_none() {
            let known: Vec<&str> = self.schema.signals().iter().map(|s| s.name.as_str()).collect();
            return Err(format!("unknown signal {signal:?} (the schema declares {})", known.join(", ")));
        }
        let mut event = Event::new(signal, key(target, "target")?);
        if let Some(user) = user {
            event.user = Some(key(user, "user")?);
        }
        if let Some(w) = weight {
            self.bounds.check_weight(w).map_err(|e| e.to_string())?;
            event.weight = Some(w);
        }
        if let Some(at) = at {
            self.bounds.check_time(at, self.now).map_err(|e| e.to_string())?;
            event.at = Some(at);
        }
        if let Some(k) = idempotency_key {
            if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY_BYTES {
                return Err(format!("idempotency_key of {} bytes (1 to {MAX_IDEMPOTENCY_KEY_BYTES})", k.len()));
            }
            event.idempotency_key = Some(k.to_owned());
        }
        Ok(event)
    }

    /// A checked edge.
    pub(crate) fn edge(&self, ty: &str, from: &str, to: &str, weight: Option<f64>) -> Result<Row, String> {
        if self.schema.relationship(ty).is_none() {
            let known: Vec<&str> = self.schema.relationships().iter().map(|r| r.name.as_str()).collect();
            return Err(format!("unknown relationship type {ty:?} (the schema declares {})", list(&known)));
        }
        let weight = weight.unwrap_or(1.0);
        self.bounds.check_weight(weight).map_err(|e| e.to_string())?;
        Ok(Row::Edge(ty.to_owned(), key(from, "from")?, key(to, "to")?, weight))
    }

    /// A checked entity from a JSON object of fields.
    pub(crate) fn entity(&self, kind: EntityKind, key_text: &str, fields: &Value) -> Result<Row, String> {
        let key = key(key_text, "entity")?;
        let def = self.schema.entity(kind);
        let refs = tidal::json::reference_keys(def, fields);
        for r in &refs {
            if let Key::Name(name) = r {
                self::key(name, "reference")?;
            }
        }
        let fields = tidal::json::fields_from_json(def, fields).map_err(|e| e.to_string())?;
        def.check(&fields).map_err(|e| e.to_string())?;
        Ok(Row::Entity(kind, key, fields, refs))
    }

    /// A JSON Lines record.
    pub(crate) fn json(&self, bytes: &[u8]) -> Result<Option<Row>, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let Value::Object(mut map) = value else {
            return Err("a record must be a JSON object".to_owned());
        };
        let kind = match map.remove("kind") {
            Some(Value::String(k)) => Kind::parse(&k)?,
            Some(other) => return Err(format!("\"kind\" must be a string, not {other}")),
            None => self.default_kind.ok_or("no \"kind\" member, and no --kind")?,
        };
        let row = match kind {
            Kind::Signal => {
                let signal = take_str(&mut map, "signal")?.ok_or("a signal needs \"signal\"")?;
                let target = match take_str(&mut map, "target")? {
                    Some(t) => t,
                    None => take_str(&mut map, "item")?.ok_or("a signal needs \"target\" (or \"item\")")?,
                };
                let user = take_str(&mut map, "user")?;
                let at =
                    map.remove("at").filter(|v| !v.is_null()).map(|v| tidal::json::time_from_json(&v)).transpose()?;
                let weight = take_f64(&mut map, "weight")?;
                let idem = take_str(&mut map, "idempotency_key")?;
                no_more(&map)?;
                Row::Signal(self.signal(&signal, &target, user.as_deref(), at, weight, idem.as_deref())?)
            }
            Kind::Relationship => {
                let ty = take_str(&mut map, "type")?.ok_or("a relationship needs \"type\"")?;
                let from = take_str(&mut map, "from")?.ok_or("a relationship needs \"from\"")?;
                let to = take_str(&mut map, "to")?.ok_or("a relationship needs \"to\"")?;
                let weight = take_f64(&mut map, "weight")?;
                no_more(&map)?;
                self.edge(&ty, &from, &to, weight)?
            }
            Kind::Item | Kind::User | Kind::Creator => {
                let key = take_str(&mut map, "key")?.ok_or("an entity needs \"key\"")?;
                let fields = map.remove("fields").unwrap_or_else(|| Value::Object(Map::new()));
                no_more(&map)?;
                let fields = if fields.is_null() { Value::Object(Map::new()) } else { fields };
                // `entity()` is `Some` for exactly these three kinds.
                let entity = kind.entity().ok_or("not an entity kind")?;
                self.entity(entity, &key, &fields)?
            }
        };
        Ok(Some(row))
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

fn take_str(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("\"{name}\" must be a string, not {other}")),
    }
}

fn take_f64(map: &mut Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| format!("\"{name}\" {n} is not a number")),
        Some(other) => Err(format!("\"{name}\" must be a number, not {other}")),
    }
}

fn no_more(map: &Map<String, Value>) -> Result<(), String> {
    match map.keys().next() {
        Some(name) => Err(format!("unknown member {name:?}")),
        None => Ok(()),
    }
}

/// A time cell: Unix seconds (fractions allowed) or RFC 3339, read by
/// [`tidal::json::time_from_json`].
pub(crate) fn time_cell(cell: &str) -> Result<Timestamp, String> {
    tidal::json::time_from_json(&time_value(cell))
}

/// A time cell as the JSON value [`tidal::json::time_from_json`] reads: a
/// number when it is one, else the string.
fn time_value(cell: &str) -> Value {
    if let Ok(secs) = cell.parse::<u64>() {
        Value::from(secs)
    } else if let Some(n) = cell.parse::<f64>().ok().and_then(Number::from_f64) {
        Value::Number(n)
    } else {
        Value::String(cell.to_owned())
    }
}

/// A number cell (a weight).
pub(crate) fn f64_cell(cell: &str, what: &str) -> Result<f64, String> {
    cell.trim().parse::<f64>().map_err(|_| format!("{what} {cell:?} is not a number"))
}

/// An entity CSV cell as the JSON value [`tidal::json`] reads for the
/// field: text, keyword and reference cells as strings; integer, float and
/// bool cells parsed; timestamps as Unix seconds or RFC 3339; tags as a
/// JSON array or `a|b|c`; vectors as a JSON array or numbers separated by
/// spaces.
pub(crate) fn cell_value(field: &FieldDef, cell: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("field `{}`: expected {what}, got {cell:?}", field.name);
    Ok(match field.ty {
        FieldType::Text { .. } | FieldType::Keyword | FieldType::Reference { .. } => Value::String(cell.to_owned()),
        FieldType::Integer => Value::from(cell.trim().parse::<i64>().map_err(|_| bad("a whole number"))?),
        FieldType::Float => {
            Value::Number(cell.trim().parse::<f64>().ok().and_then(Number::from_f64).ok_or_else(|| bad("a number"))?)
        }
        FieldType::Bool => match cell.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        FieldType::Timestamp => time_value(cell.trim()),
        FieldType::Tags => {
            if cell.trim_start().starts_with('[') {
                serde_json::from_str(cell).map_err(|_| bad("a JSON array of strings or a|b|c"))?
            } else {
                Value::Array(cell.split('|').map(|t| Value::String(t.trim().to_owned())).collect())
            }
        }
        FieldType::Vector { .. } => {
            if cell.trim_start().starts_with('[') {
                serde_json::from_str(cell).map_err(|_| bad("a JSON array of numbers or numbers separated by spaces"))?
            } else {
                Value::Array(
                    cell.split_whitespace()
                        .map(|x| x.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("a JSON array of numbers or numbers separated by spaces"))?,
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            schema: Arc::new(tidal::schema::presets::content_feed()),
            bounds: InputBounds::default(),
            now: Timestamp::now(),
            default_kind: None,
        }
    }

    #[test]
    fn json_records_of_each_kind() {
        let r = rules();
        let row = r.json(br#"{"kind":"signal","signal":"view","target":"i","user":"u","at":100,"weight":2}"#);
        let Ok(Some(Row::Signal(e))) = row else { panic!("{row:?}") };
        assert_eq!((e.at, e.weight, e.user), (Some(Timestamp::from_secs(100)), Some(2.0), Some(Key::from("u"))));
        let row = r.json(br#"{"kind":"item","key":"i","fields":{"title":"T"}}"#).unwrap();
        assert!(matches!(row, Some(Row::Entity(EntityKind::Item, _, _, _))), "{row:?}");
        assert!(r.json(b"   ").unwrap().is_none());
    }

    #[test]
    fn json_refusals_say_why() {
        let r = rules();
        let err = |line: &[u8]| r.json(line).unwrap_err();
        assert!(err(b"{nope").starts_with("invalid JSON"));
        assert!(err(br#"{"kind":"thing"}"#).contains("unknown kind \"thing\""));
        assert!(err(br#"{"kind":"signal","signal":"zap","target":"i"}"#).contains("unknown signal \"zap\""));
        assert!(err(br#"{"kind":"item","key":""}"#).contains("empty entity key"));
        assert!(err(br#"{"kind":"item","key":"k","fields":{"title":3}}"#).contains("field `title`"));
        assert!(err(br#"{"kind":"signal","signal":"view","target":"i","at":"soon"}"#).contains("RFC 3339"));
        assert!(err(br#"{"kind":"signal","signal":"view","target":"i","extra":1}"#).contains("unknown member"));
        assert!(err(br#"{"signal":"view","target":"i"}"#).contains("no \"kind\""));
        assert!(err(b"{\"kind\":\"item\",\"key\":\"\xff\"}").contains("invalid UTF-8"));
    }

    #[test]
    fn cells_read_as_their_field_types() {
        let schema = tidal::schema::presets::content_feed();
        let def = schema.entity(EntityKind::Item);
        let field = |name: &str| def.field(name).unwrap();
        assert_eq!(cell_value(field("title"), "Hi").unwrap(), Value::String("Hi".into()));
        assert_eq!(cell_value(field("published_at"), "100").unwrap(), Value::from(100));
        assert_eq!(
            tidal::json::time_from_json(&cell_value(field("published_at"), "2024-01-01T00:00:00.5Z").unwrap()).unwrap(),
            tidal_query::parse_rfc3339("2024-01-01T00:00:00.5Z").unwrap()
        );
        let soon = cell_value(field("published_at"), "soon").unwrap();
        let err = tidal::json::fields_from_json(def, &serde_json::json!({ "published_at": soon })).unwrap_err();
        assert!(err.to_string().contains("published_at"), "{err}");
    }
}

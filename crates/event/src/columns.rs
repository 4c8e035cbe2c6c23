//! The stored shape of an event: the columns every engine's `events` table has for it, in order,
//! each with how to read it off an [`Event`]. Engines add their own bookkeeping columns (the
//! embedded store an id hash, every store `received_at`).

use crate::Event;

/// How to read one column's value off an event.
#[derive(Clone, Copy)]
pub enum Getter {
    Text(fn(&Event) -> Option<&str>),
    Int(fn(&Event) -> Option<i64>),
    Float(fn(&Event) -> Option<f64>),
}

#[derive(Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// `false` for the columns every event has (`id`, `type`, `ts`).
    pub nullable: bool,
    pub get: Getter,
}

const fn text(name: &'static str, get: fn(&Event) -> Option<&str>) -> Column {
    Column {
        name,
        nullable: true,
        get: Getter::Text(get),
    }
}

const fn int(name: &'static str, get: fn(&Event) -> Option<i64>) -> Column {
    Column {
        name,
        nullable: true,
        get: Getter::Int(get),
    }
}

const fn float(name: &'static str, get: fn(&Event) -> Option<f64>) -> Column {
    Column {
        name,
        nullable: true,
        get: Getter::Float(get),
    }
}

pub const COLUMNS: &[Column] = &[
    Column {
        name: "id",
        nullable: false,
        get: Getter::Text(|e| Some(&e.id)),
    },
    Column {
        name: "type",
        nullable: false,
        get: Getter::Text(|e| Some(e.kind().as_str())),
    },
    Column {
        name: "ts",
        nullable: false,
        get: Getter::Int(|e| Some(e.timestamp)),
    },
    text("license_id", |e| e.license_id.as_deref()),
    text("user_id", |e| e.wide().user_id.as_deref()),
    text("account_id", |e| e.wide().account_id.as_deref()),
    text("product", |e| e.wide().product.as_deref()),
    text("tier", |e| e.wide().tier.as_deref()),
    text("model", |e| e.wide().model.as_deref()),
    text("region", |e| e.wide().region.as_deref()),
    text("channel", |e| e.wide().channel.as_deref()),
    text("machine_id", |e| e.machine_id.as_deref()),
    text("version", |e| e.version.as_deref()),
    text("from_version", |e| e.wide().from_version.as_deref()),
    text("ip", |e| e.ip.as_deref()),
    text("country", |e| e.country.as_deref()),
    float("lat", |e| e.lat),
    float("lon", |e| e.lon),
    float("amount", |e| e.wide().amount),
    text("currency", |e| e.wide().currency.as_deref()),
    int("seats", |e| e.wide().seats),
    text("term", |e| e.wide().term.as_deref()),
    int("expires_at", |e| e.wide().expires_at),
    text("reason", |e| e.wide().reason.as_deref()),
    text("code", |e| e.code.as_deref()),
    text("result", |e| e.result.as_deref()),
    float("latency_ms", |e| e.latency_ms),
    float("quantity", |e| e.wide().quantity),
    text("meter", |e| e.wide().meter.as_deref()),
    text("properties", |e| e.wide().properties.as_deref()),
    text("source", |e| e.source.as_deref()),
];

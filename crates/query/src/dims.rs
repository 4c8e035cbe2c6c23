//! The dimensions a query may group and filter by. Names come from this fixed set only, so no
//! user text ever becomes an identifier in SQL.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Product,
    Model,
    Tier,
    Region,
    Channel,
    AccountId,
    Country,
    Version,
    FromVersion,
    Reason,
    Code,
    Currency,
    Meter,
    Type,
}

impl Dim {
    pub const ALL: [Dim; 14] = [
        Dim::Product,
        Dim::Model,
        Dim::Tier,
        Dim::Region,
        Dim::Channel,
        Dim::AccountId,
        Dim::Country,
        Dim::Version,
        Dim::FromVersion,
        Dim::Reason,
        Dim::Code,
        Dim::Currency,
        Dim::Meter,
        Dim::Type,
    ];

    /// The dimensions of a license (its attributes at creation).
    pub const LICENSE: [Dim; 6] = [
        Dim::Product,
        Dim::Model,
        Dim::Tier,
        Dim::Region,
        Dim::Channel,
        Dim::AccountId,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dim::Product => "product",
            Dim::Model => "model",
            Dim::Tier => "tier",
            Dim::Region => "region",
            Dim::Channel => "channel",
            Dim::AccountId => "account_id",
            Dim::Country => "country",
            Dim::Version => "version",
            Dim::FromVersion => "from_version",
            Dim::Reason => "reason",
            Dim::Code => "code",
            Dim::Currency => "currency",
            Dim::Meter => "meter",
            Dim::Type => "type",
        }
    }

    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn is_license_attribute(self) -> bool {
        Dim::LICENSE.contains(&self)
    }

    /// The column of a table carrying license attributes (`licenses`, or `terms`, which
    /// repeats them) under `alias`.
    pub fn license_column(self, alias: &str) -> String {
        format!("{alias}.{}", self.name())
    }

    /// The expression over `events e` joined with the segment covering each event's instant
    /// (columns `s_*`): license attributes at creation, tier and model as they stood right after
    /// the event, falling back to the event's own field when the license is unknown.
    pub fn event_expr(self) -> String {
        if self.is_license_attribute() {
            format!("coalesce(e.s_{0}, e.{0})", self.name())
        } else {
            format!("e.{}", self.name())
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

//! SIM attributes that are not identifiers or lifecycle.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text $(, alias = $alias)*)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text $(| $alias)* => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// How the SIM is billed.
    SimType { Prepaid = "prepaid", Postpaid = "postpaid", DataOnly = "data_only" | "data-only" }
);

string_enum!(
    /// Who provides connectivity: `none` for an ISP's own stock, or a provider whose API simfleet syncs with.
    Provider { None = "none", OneNce = "1nce" }
);

string_enum!(
    /// What happened to a SIM, recorded in its event history.
    EventKind {
        Created = "CREATED",
        Updated = "UPDATED",
        Assigned = "ASSIGNED",
        StatusChanged = "STATUS_CHANGED",
        StatusChangedExternally = "STATUS_CHANGED_EXTERNALLY",
        Reserved = "RESERVED",
        Activated = "ACTIVATED",
        Suspended = "SUSPENDED",
        ReportedLost = "REPORTED_LOST",
        Terminated = "TERMINATED",
        Swapped = "SWAPPED",
        Imported = "IMPORTED",
        SecretsRevealed = "SECRETS_REVEALED",
        ProviderActionFailed = "PROVIDER_ACTION_FAILED",
        ProviderActionRequested = "PROVIDER_ACTION_REQUESTED",
        ProviderActionApplied = "PROVIDER_ACTION_APPLIED",
        SupportTicketOpened = "SUPPORT_TICKET_OPENED",
    }
);

impl EventKind {
    /// The event a lifecycle action records.
    pub fn for_action(action: crate::Action) -> Self {
        use crate::Action::*;
        match action {
            Reserve => EventKind::Reserved,
            Activate => EventKind::Activated,
            Suspend => EventKind::Suspended,
            ReportLost => EventKind::ReportedLost,
            Terminate => EventKind::Terminated,
            Swap => EventKind::Swapped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_parse_and_canonical_names_serialize() {
        assert_eq!(SimType::parse("data-only"), Some(SimType::DataOnly));
        let t: SimType = serde_json::from_str("\"data-only\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"data_only\"");
        assert_eq!(serde_json::to_string(&Provider::OneNce).unwrap(), "\"1nce\"");
    }
}

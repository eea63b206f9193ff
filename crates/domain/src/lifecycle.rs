//! The SIM lifecycle state machine.
//!
//! ```text
//! AVAILABLE ─reserve─► RESERVED ─activate─► ACTIVE ◄─activate/suspend─► SUSPENDED
//! any non-terminal ─report-lost─► LOST_STOLEN        any non-terminal ─terminate─► TERMINATED
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimStatus {
    Available,
    Reserved,
    Active,
    Suspended,
    LostStolen,
    Terminated,
}

impl SimStatus {
    pub const ALL: [SimStatus; 6] = [
        SimStatus::Available,
        SimStatus::Reserved,
        SimStatus::Active,
        SimStatus::Suspended,
        SimStatus::LostStolen,
        SimStatus::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SimStatus::Available => "AVAILABLE",
            SimStatus::Reserved => "RESERVED",
            SimStatus::Active => "ACTIVE",
            SimStatus::Suspended => "SUSPENDED",
            SimStatus::LostStolen => "LOST_STOLEN",
            SimStatus::Terminated => "TERMINATED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    pub fn is_terminal(self) -> bool {
        self == SimStatus::Terminated
    }

    /// The actions a user may take from this state, in the order a UI should offer them.
    pub fn allowed_actions(self) -> Vec<Action> {
        Action::ALL.into_iter().filter(|a| a.next_state(self).is_some()).collect()
    }
}

impl fmt::Display for SimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle action, named as in the URL (`/sims/{iccid}/report-lost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Reserve,
    Activate,
    Suspend,
    ReportLost,
    Terminate,
    Swap,
}

/// A forbidden transition: the current state and what would have been allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a SIM in state {current}")]
pub struct TransitionError {
    pub action: Action,
    pub current: SimStatus,
    pub allowed: Vec<Action>,
}

impl Action {
    pub const ALL: [Action; 6] =
        [Action::Reserve, Action::Activate, Action::Suspend, Action::ReportLost, Action::Terminate, Action::Swap];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reserve => "reserve",
            Action::Activate => "activate",
            Action::Suspend => "suspend",
            Action::ReportLost => "report-lost",
            Action::Terminate => "terminate",
            Action::Swap => "swap",
        }
    }

    /// The state a SIM in `from` ends in after this action.
    ///
    /// A swap terminates the old card; [`swap_successor_status`] gives the new card's state.
    pub fn target_from(self, from: SimStatus) -> Result<SimStatus, TransitionError> {
        self.next_state(from).ok_or_else(|| TransitionError {
            action: self,
            current: from,
            allowed: from.allowed_actions(),
        })
    }

    fn next_state(self, from: SimStatus) -> Option<SimStatus> {
        use SimStatus::*;
        match (self, from) {
            (Action::Reserve, Available) => Some(Reserved),
            (Action::Activate, Reserved | Suspended) => Some(Active),
            (Action::Suspend, Active) => Some(Suspended),
            (Action::ReportLost, Available | Reserved | Active | Suspended) => Some(LostStolen),
            (Action::Terminate, s) if !s.is_terminal() => Some(Terminated),
            (Action::Swap, Reserved | Active | Suspended | LostStolen) => Some(Terminated),
            _ => None,
        }
    }
}

/// The state of the replacement card in a swap: it takes over the service of the old one,
/// and a card replacing a lost or stolen one goes straight into service.
pub fn swap_successor_status(old: SimStatus) -> SimStatus {
    match old {
        SimStatus::LostStolen => SimStatus::Active,
        other => other,
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use SimStatus::*;

    #[test]
    fn the_whole_transition_table() {
        let expected: &[(SimStatus, &[(Action, SimStatus)])] = &[
            (Available, &[(Reserve, Reserved), (ReportLost, LostStolen), (Terminate, Terminated)]),
            (Reserved, &[(Activate, Active), (ReportLost, LostStolen), (Terminate, Terminated), (Swap, Terminated)]),
            (Active, &[(Suspend, Suspended), (ReportLost, LostStolen), (Terminate, Terminated), (Swap, Terminated)]),
            (Suspended, &[(Activate, Active), (ReportLost, LostStolen), (Terminate, Terminated), (Swap, Terminated)]),
            (LostStolen, &[(Terminate, Terminated), (Swap, Terminated)]),
            (Terminated, &[]),
        ];
        for (from, allowed) in expected {
            for action in Action::ALL {
                let want = allowed.iter().find(|(a, _)| *a == action).map(|(_, to)| *to);
                assert_eq!(action.target_from(*from).ok(), want, "{action} from {from}");
            }
            let names: Vec<_> = allowed.iter().map(|(a, _)| *a).collect();
            assert_eq!(from.allowed_actions(), names);
        }
    }

    #[test]
    fn error_names_state_and_alternatives() {
        let err = Suspend.target_from(Available).unwrap_err();
        assert_eq!(err.current, Available);
        assert_eq!(err.allowed, vec![Reserve, ReportLost, Terminate]);
        assert_eq!(err.to_string(), "cannot suspend a SIM in state AVAILABLE");
    }

    #[test]
    fn status_round_trips() {
        for s in SimStatus::ALL {
            assert_eq!(SimStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(serde_json::to_string(&ReportLost).unwrap(), "\"report-lost\"");
    }
}

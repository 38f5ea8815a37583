//! Every Wix path, method and id header the client uses, in one place.
//!
//! Several details are unconfirmed in Wix's docs (see
//! `shared/reference/wix-api.md` §13): which id header Get Roles Info wants,
//! which method removes a contributor, how repeated query parameters are
//! encoded. A correction is a one-line change here.
//!
//! Each endpoint also says whether a call may be sent again when its first
//! attempt failed in a way that leaves the outcome open ([`Repeat`]); the
//! client retries only those.

use reqwest::Method;

/// Which id header a call carries besides `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdHeader {
    /// `wix-site-id`: site-level methods.
    Site,
    /// `wix-account-id`: account-level methods.
    Account,
}

/// Whether a call may be repeated after a failure whose outcome is unknown
/// (a timeout, a dropped connection, a 5xx) or after a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Doing it twice ends in the same state as doing it once: reads; Change
    /// Role (it sets the whole role set); Revoke and Remove (a repeat of one
    /// that took effect answers 404, which the client reads as done).
    Safe,
    /// Every call that reaches Wix sends email (Bulk Invite, Resend).
    /// Repeated by the client only when Wix certainly did not act on it (a
    /// 429, a connection never made); after a failure that may have taken
    /// effect, the apply executor records the outcome as unknown and a
    /// person decides.
    Never,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Name used in errors and logs.
    pub name: &'static str,
    pub method: Method,
    /// `{id}` is replaced by the invite id where present.
    pub path: &'static str,
    pub id_header: IdHeader,
    /// Whether the client may retry the call.
    pub repeat: Repeat,
}

/// Documented elsewhere as the cap for account invites; Wix documents none
/// for site invites, so the same cap is kept.
pub const MAX_INVITES_PER_CALL: usize = 50;

pub const GET_ROLES_INFO: Endpoint = Endpoint {
    name: "Get Roles Info",
    method: Method::GET,
    path: "/roles-management/roles",
    // UNCONFIRMED: documented as account-level; a third-party script sends wix-site-id.
    id_header: IdHeader::Account,
    repeat: Repeat::Safe,
};

pub const QUERY_CONTRIBUTORS: Endpoint = Endpoint {
    name: "Query Site Contributors",
    method: Method::GET,
    path: "/roles-management/v2/contributors/query",
    id_header: IdHeader::Site,
    repeat: Repeat::Safe,
};

pub const BULK_INVITE: Endpoint = Endpoint {
    name: "Bulk Invite",
    method: Method::POST,
    path: "/invites/site-invite/bulk",
    id_header: IdHeader::Site,
    repeat: Repeat::Never,
};

pub const RESEND_INVITE: Endpoint = Endpoint {
    name: "Resend Invite",
    method: Method::POST,
    path: "/invites/site-invite/{id}/resend",
    id_header: IdHeader::Site,
    repeat: Repeat::Never,
};

pub const REVOKE_INVITE: Endpoint = Endpoint {
    name: "Revoke Invite",
    method: Method::POST,
    path: "/invites/site-invite/{id}/revoke",
    id_header: IdHeader::Site,
    repeat: Repeat::Safe,
};

pub const CHANGE_ROLE: Endpoint = Endpoint {
    name: "Change Role",
    method: Method::PUT,
    path: "/roles-management/contributor/change/role",
    id_header: IdHeader::Site,
    repeat: Repeat::Safe,
};

pub const REMOVE_CONTRIBUTOR: Endpoint = Endpoint {
    name: "Remove Contributor",
    // UNCONFIRMED: POST per the .md schema, DELETE per the rendered page.
    method: Method::POST,
    path: "/roles-management/contributor/remove",
    id_header: IdHeader::Site,
    repeat: Repeat::Safe,
};

/// Tried when [`REMOVE_CONTRIBUTOR`]'s method answers 404 or 405.
pub const REMOVE_FALLBACK_METHOD: Method = Method::DELETE;

/// Every endpoint, for tests and documentation.
pub const ALL: [&Endpoint; 7] = [
    &GET_ROLES_INFO,
    &QUERY_CONTRIBUTORS,
    &BULK_INVITE,
    &RESEND_INVITE,
    &REVOKE_INVITE,
    &CHANGE_ROLE,
    &REMOVE_CONTRIBUTOR,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls that send email must never be repeated by the client; the rest
    /// are safe to repeat. A new endpoint has to take a side here.
    #[test]
    fn only_email_sending_calls_are_never_repeated() {
        let never: Vec<&str> = ALL
            .iter()
            .filter(|e| e.repeat == Repeat::Never)
            .map(|e| e.name)
            .collect();
        assert_eq!(never, ["Bulk Invite", "Resend Invite"]);
        for e in ALL {
            if e.method == Method::GET {
                assert_eq!(e.repeat, Repeat::Safe, "{}", e.name);
            }
        }
    }
}

//! Every Wix path, method and id header the client uses, in one place.
//!
//! Several details are unconfirmed in Wix's docs (`wix-api.md`, its
//! UNCONFIRMED list). Each is listed in [`UNCONFIRMED`] with how the client
//! survives every reading the docs leave open: it either handles each one
//! (a fallback method, header or parameter place, below) or detects the
//! answer it cannot read and stops that site with a message naming the
//! detail ([`Detail`]). A correction is a one-line change here.
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

impl IdHeader {
    /// The header's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            IdHeader::Site => "wix-site-id",
            IdHeader::Account => "wix-account-id",
        }
    }
}

/// Whether a call may be repeated after a failure whose outcome is unknown
/// (a timeout, a dropped connection, a 5xx) or after a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Doing it twice ends in the same state as doing it once: reads; Change
    /// Role (it sets the whole role set); Revoke and Remove (a repeat of one
    /// that took effect answers Wix's NOT_FOUND, which the client reads as
    /// done).
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
    // UNCONFIRMED: documented as account-level; a third-party script sends
    // wix-site-id (see GET_ROLES_INFO_FALLBACK_HEADER).
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
    // UNCONFIRMED: PUT per the docs, PATCH in an older example (see
    // CHANGE_ROLE_FALLBACK_METHOD).
    method: Method::PUT,
    path: "/roles-management/contributor/change/role",
    id_header: IdHeader::Site,
    repeat: Repeat::Safe,
};

pub const REMOVE_CONTRIBUTOR: Endpoint = Endpoint {
    name: "Remove Contributor",
    // UNCONFIRMED: POST per the .md schema, DELETE per the rendered page
    // (see REMOVE_FALLBACK_METHOD).
    method: Method::POST,
    path: "/roles-management/contributor/remove",
    id_header: IdHeader::Site,
    repeat: Repeat::Safe,
};

/// Tried when [`REMOVE_CONTRIBUTOR`]'s method answers 405 (or a 404 that
/// is not Wix's `NOT_FOUND`): `accountId` then goes in the query string, as
/// a gateway reads a DELETE's parameters.
pub const REMOVE_FALLBACK_METHOD: Method = Method::DELETE;
/// The query parameter [`REMOVE_FALLBACK_METHOD`] carries the id in.
pub const REMOVE_QUERY_PARAM: &str = "accountId";

/// Tried when [`CHANGE_ROLE`]'s method answers 405 (an older example shows
/// PATCH).
pub const CHANGE_ROLE_FALLBACK_METHOD: Method = Method::PATCH;

/// Tried when Get Roles Info refuses [`GET_ROLES_INFO`]'s header with a
/// 400 or 403.
pub const GET_ROLES_INFO_FALLBACK_HEADER: IdHeader = IdHeader::Site;

/// Query Site Contributors' role filter, one parameter per role id.
pub const ROLE_FILTER_PARAM: &str = "filter.policyIds";

/// A role id no site has. When every per-role query returns every
/// contributor, a query filtered on this one tells an ignored filter (it
/// returns them too) from contributors who all hold every role (it returns
/// nobody).
pub const ROLE_FILTER_PROBE_ID: &str = "accessctl-probe-no-such-role";

/// The application error code that means "no such thing" in Wix's error
/// body. Only a 404 carrying it counts as "already gone".
pub const NOT_FOUND_CODE: &str = "NOT_FOUND";

/// An API detail Wix's docs leave open, named in errors and by `doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    /// Short name used in messages.
    pub name: &'static str,
    /// How the client survives each documented-possible answer.
    pub handling: &'static str,
}

pub const DETAIL_REMOVE_METHOD: Detail = Detail {
    name: "Remove Contributor method",
    handling: "POST with a JSON body; on 405 DELETE with `accountId` in the query string; both refused stops the removal",
};
pub const DETAIL_CHANGE_ROLE_METHOD: Detail = Detail {
    name: "Change Role method",
    handling: "PUT; on 405 PATCH; both refused stops the change",
};
pub const DETAIL_REVOKE_NOT_FOUND: Detail = Detail {
    name: "Revoke Invite 404",
    handling: "only a 404 with Wix's NOT_FOUND error body counts as already revoked; any other 404 stops the revoke",
};
pub const DETAIL_ROLES_HEADER: Detail = Detail {
    name: "Get Roles Info id header",
    handling: "wix-account-id; on 400/403 wix-site-id; both refused stops the site",
};
pub const DETAIL_ACCOUNT_OWNER_ID: Detail = Detail {
    name: "accountOwnerId meaning",
    handling: "must equal the configured account_id on every row that carries it; otherwise the site's plan stops",
};
pub const DETAIL_OWNER_LISTED: Detail = Detail {
    name: "owner listed in Query Site Contributors",
    handling: "either way: the configured account_id is always the owner and never touched",
};
pub const DETAIL_ROLE_FILTER: Detail = Detail {
    name: "role filter (filter.policyIds)",
    handling: "a contributor found by no per-role query, or per-role queries that all return everyone while a query on a role id that does not exist does too, stop the site's plan",
};
pub const DETAIL_EMPTY_ANSWER: Detail = Detail {
    name: "empty Query Site Contributors answer",
    handling: "no rows at all while the ledger or config knows accounts on the site stops the site's plan",
};
pub const DETAIL_INVITE_LANGUAGE: Detail = Detail {
    name: "Bulk Invite defaultEmailLanguage",
    handling: "sent only when `invite_language` is configured; otherwise left out so Wix uses the owner's language",
};

/// Every unconfirmed detail the client depends on (README, "What has not
/// been confirmed against real Wix").
pub const UNCONFIRMED: [&Detail; 9] = [
    &DETAIL_REMOVE_METHOD,
    &DETAIL_CHANGE_ROLE_METHOD,
    &DETAIL_REVOKE_NOT_FOUND,
    &DETAIL_ROLES_HEADER,
    &DETAIL_ACCOUNT_OWNER_ID,
    &DETAIL_OWNER_LISTED,
    &DETAIL_ROLE_FILTER,
    &DETAIL_EMPTY_ANSWER,
    &DETAIL_INVITE_LANGUAGE,
];

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

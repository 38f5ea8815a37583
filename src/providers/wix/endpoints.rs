//! Every Wix path, method and id header the client uses, in one place.
//!
//! Several details are unconfirmed in Wix's docs (see
//! `shared/reference/wix-api.md` §13): which id header Get Roles Info wants,
//! which method removes a contributor, how repeated query parameters are
//! encoded. A correction is a one-line change here.

use reqwest::Method;

/// Which id header a call carries besides `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdHeader {
    /// `wix-site-id`: site-level methods.
    Site,
    /// `wix-account-id`: account-level methods.
    Account,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Name used in errors and logs.
    pub name: &'static str,
    pub method: Method,
    /// `{id}` is replaced by the invite id where present.
    pub path: &'static str,
    pub id_header: IdHeader,
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
};

pub const QUERY_CONTRIBUTORS: Endpoint = Endpoint {
    name: "Query Site Contributors",
    method: Method::GET,
    path: "/roles-management/v2/contributors/query",
    id_header: IdHeader::Site,
};

pub const BULK_INVITE: Endpoint = Endpoint {
    name: "Bulk Invite",
    method: Method::POST,
    path: "/invites/site-invite/bulk",
    id_header: IdHeader::Site,
};

pub const RESEND_INVITE: Endpoint = Endpoint {
    name: "Resend Invite",
    method: Method::POST,
    path: "/invites/site-invite/{id}/resend",
    id_header: IdHeader::Site,
};

pub const REVOKE_INVITE: Endpoint = Endpoint {
    name: "Revoke Invite",
    method: Method::POST,
    path: "/invites/site-invite/{id}/revoke",
    id_header: IdHeader::Site,
};

pub const CHANGE_ROLE: Endpoint = Endpoint {
    name: "Change Role",
    method: Method::PUT,
    path: "/roles-management/contributor/change/role",
    id_header: IdHeader::Site,
};

pub const REMOVE_CONTRIBUTOR: Endpoint = Endpoint {
    name: "Remove Contributor",
    // UNCONFIRMED: POST per the .md schema, DELETE per the rendered page.
    method: Method::POST,
    path: "/roles-management/contributor/remove",
    id_header: IdHeader::Site,
};

/// Tried when [`REMOVE_CONTRIBUTOR`]'s method answers 404 or 405.
pub const REMOVE_FALLBACK_METHOD: Method = Method::DELETE;

//! Integration tests of the Wix emulator over loopback: the emulated Wix
//! endpoints (paths, headers, JSON, error shapes, gaps) and the
//! `/_emulator` test controls.

use accessctl::emulator::{self, RunningEmulator, Seed};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ACME: &str = "91f0c2d4-0000-4000-8000-000000000001";
const OTHER: &str = "91f0c2d4-0000-4000-8000-000000000002";
const SITE: &str = "0d6b9a7e-0000-4000-8000-000000000001";
const OTHER_SITE: &str = "0d6b9a7e-0000-4000-8000-000000000002";
const KEY: &str = "emu-key-acme-SECRET";
const OTHER_KEY: &str = "emu-key-other-SECRET";

fn seed_yaml(extra_top: &str, seat_limit: u32) -> String {
    format!(
        r#"
{extra_top}
accounts:
  - id: {ACME}
    api_keys: [ "{KEY}" ]
    custom_roles:
      - {{ id: "custom-seo-reviewer", title: "SEO Reviewer", description: "Reviews SEO" }}
  - id: {OTHER}
    api_keys: [ "{OTHER_KEY}" ]
    custom_roles:
      - {{ id: "custom-other", title: "Other Role" }}
sites:
  - id: {SITE}
    account: {ACME}
    seat_limit: {seat_limit}
    contributors:
      - {{ account_id: "acct-bob", roles: ["Website Manager", "blog editor"] }}
      - {{ account_id: "acct-carol", roles: ["role-blog-writer"] }}
  - id: {OTHER_SITE}
    account: {OTHER}
"#
    )
}

struct Emu {
    emu: RunningEmulator,
    http: Client,
}

impl Emu {
    async fn start(yaml: &str) -> Emu {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seed: Seed = emulator::parse_seed(yaml).expect("seed parses");
        let emu = emulator::spawn(seed, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator starts");
        Emu {
            emu,
            http: Client::new(),
        }
    }

    async fn default() -> Emu {
        Emu::start(&seed_yaml("", 10)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    /// A site-level Wix call with the acme key and site header.
    fn site_req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", KEY)
            .header("wix-site-id", SITE)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    async fn query(&self, policy_ids: &[&str]) -> Vec<String> {
        let pairs: Vec<(&str, &str)> = policy_ids
            .iter()
            .map(|p| ("filter.policyIds", *p))
            .collect();
        let (status, body) = self
            .send(
                self.site_req(Method::GET, "/roles-management/v2/contributors/query")
                    .query(&pairs),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["contributors"]
            .as_array()
            .expect("contributors array")
            .iter()
            .map(|c| c["accountId"].as_str().expect("accountId").to_owned())
            .collect()
    }

    async fn invite(&self, emails: &[&str], roles: &[&str]) -> (StatusCode, Value) {
        self.send(
            self.site_req(Method::POST, "/invites/site-invite/bulk")
                .json(&json!({ "policyIds": roles, "emails": emails })),
        )
        .await
    }

    async fn control(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.request(method, self.url(path)).json(&body))
            .await
    }

    async fn state_site(&self) -> Value {
        let (status, state) = self.send(self.http.get(self.url("/_emulator/state"))).await;
        assert_eq!(status, StatusCode::OK);
        state["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .find(|s| s["id"] == SITE)
            .expect("site in state")
            .clone()
    }

    async fn log(&self) -> Vec<Value> {
        let (status, log) = self.send(self.http.get(self.url("/_emulator/log"))).await;
        assert_eq!(status, StatusCode::OK);
        log.as_array().expect("log array").clone()
    }
}

fn app_code(body: &Value) -> &str {
    body["details"]["applicationError"]["code"]
        .as_str()
        .unwrap_or("<no applicationError.code>")
}

fn violation_fields(body: &Value) -> Vec<String> {
    body["details"]["validationError"]["fieldViolations"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn roles_listing_includes_own_custom_roles_only() {
    let e = Emu::default().await;
    for (header, value) in [("wix-account-id", ACME), ("wix-site-id", SITE)] {
        let (status, body) = e
            .send(
                e.http
                    .get(e.url("/roles-management/roles"))
                    .query(&[("locale", "en"), ("filter.roleLevel", "SITE_LEVEL")])
                    .header("Authorization", KEY)
                    .header(header, value),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{header}: {body}");
        let titles: Vec<&str> = body["predefinedRoles"]
            .as_array()
            .expect("predefinedRoles")
            .iter()
            .map(|r| r["title"].as_str().expect("title"))
            .collect();
        assert_eq!(titles.len(), 14);
        assert!(titles.contains(&"Admin (Co-Owner)"));
        assert!(titles.contains(&"Guest Writer"));
        assert_eq!(
            body["customRoles"],
            json!([{ "id": "custom-seo-reviewer", "title": "SEO Reviewer",
                     "description": "Reviews SEO", "restrictFromLevel": "NoRestriction" }])
        );
    }
    // Neither id header: 400.
    let (status, body) = e
        .send(
            e.http
                .get(e.url("/roles-management/roles"))
                .header("Authorization", KEY),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn role_level_filter_drops_roles_restricted_from_sites() {
    let yaml = seed_yaml(
        r#"predefined_roles:
  - { id: "r-site", title: "Site Role" }
  - { id: "r-acct-only", title: "Account Only", restrict_from_level: Site }"#,
        10,
    )
    .replace("[\"Website Manager\", \"blog editor\"]", "[\"Site Role\"]")
    .replace("[\"role-blog-writer\"]", "[\"r-site\"]");
    let e = Emu::start(&yaml).await;
    let ids = |body: &Value| -> Vec<String> {
        body["predefinedRoles"]
            .as_array()
            .expect("predefinedRoles")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let get = |level: &'static str| {
        e.http
            .get(e.url("/roles-management/roles"))
            .query(&[("filter.roleLevel", level)])
            .header("Authorization", KEY)
            .header("wix-account-id", ACME)
    };
    let (_, all) = e.send(get("ALL")).await;
    assert_eq!(ids(&all), ["r-site", "r-acct-only"]);
    let (_, site) = e.send(get("SITE_LEVEL")).await;
    assert_eq!(ids(&site), ["r-site"]);
    let (status, bad) = e.send(get("NOPE")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(violation_fields(&bad), ["filter.roleLevel"]);
    // A role restricted from sites cannot be granted on one.
    let (status, body) = e.invite(&["x@example.com"], &["r-acct-only"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn query_contributors_unfiltered_includes_owner_and_filters_are_or() {
    let e = Emu::default().await;
    assert_eq!(e.query(&[]).await, [ACME, "acct-bob", "acct-carol"]);
    assert_eq!(e.query(&["role-blog-editor"]).await, ["acct-bob"]);
    assert_eq!(
        e.query(&["role-blog-editor", "role-blog-writer"]).await,
        ["acct-bob", "acct-carol"]
    );
    assert!(
        e.query(&["role-admin"]).await.is_empty(),
        "owner never matches"
    );
    assert!(e.query(&["no-such-role"]).await.is_empty());

    // The raw repeated encoding, and the exact response shape (no emails,
    // no roles, no paging).
    let (status, body) = e
        .send(e.site_req(
            Method::GET,
            "/roles-management/v2/contributors/query?filter.policyIds=role-blog-writer&filter.policyIds=role-website-manager",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "contributors": [
            { "accountId": "acct-bob", "accountOwnerId": ACME },
            { "accountId": "acct-carol", "accountOwnerId": ACME },
        ]})
    );
    let log = e.log().await;
    let last = log.last().expect("logged");
    assert_eq!(
        last["query"],
        "filter.policyIds=role-blog-writer&filter.policyIds=role-website-manager"
    );
    assert_eq!(last["endpoint"], "querySiteContributors");
}

#[tokio::test]
async fn auth_failures_use_wix_error_shape() {
    let e = Emu::default().await;
    let path = "/roles-management/v2/contributors/query";

    let (status, body) = e
        .send(e.http.get(e.url(path)).header("wix-site-id", SITE))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app_code(&body), "UNAUTHENTICATED");
    assert!(body["message"].is_string());
    assert!(body["details"]["applicationError"]["description"].is_string());
    assert!(body["details"]["applicationError"]["data"].is_object());

    for bad in ["wrong-key", &format!("Bearer {KEY}")] {
        let (status, body) = e
            .send(
                e.http
                    .get(e.url(path))
                    .header("Authorization", bad)
                    .header("wix-site-id", SITE),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(app_code(&body), "UNAUTHENTICATED");
    }

    // Another account's key: authenticated but not the site owner.
    let (status, body) = e
        .send(
            e.http
                .get(e.url(path))
                .header("Authorization", OTHER_KEY)
                .header("wix-site-id", SITE),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app_code(&body), "PERMISSION_DENIED");

    let (status, _) = e
        .send(
            e.http
                .get(e.url("/roles-management/roles"))
                .header("Authorization", KEY)
                .header("wix-account-id", OTHER),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = e
        .send(e.http.get(e.url(path)).header("Authorization", KEY))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "missing wix-site-id");

    let (status, body) = e
        .send(
            e.http
                .get(e.url(path))
                .header("Authorization", KEY)
                .header("wix-site-id", "no-such-site"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn bulk_invite_creates_pending_invites_and_is_logged() {
    let e = Emu::default().await;
    let (status, body) = e
        .invite(
            &["dave@example.com", "erin@example.com"],
            &["role-blog-writer", "custom-seo-reviewer"],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["failedEmails"], json!([]));
    let invites = body["invites"].as_array().expect("invites");
    assert_eq!(invites.len(), 2);
    let inv = &invites[0];
    assert_eq!(inv["email"], "dave@example.com");
    assert_eq!(inv["siteId"], SITE);
    assert_eq!(inv["status"], "Pending");
    assert_eq!(inv["inviterId"], ACME);
    assert_eq!(
        inv["policyIds"],
        json!(["role-blog-writer", "custom-seo-reviewer"])
    );
    assert!(
        inv["acceptLink"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://"))
    );
    assert_ne!(invites[0]["id"], invites[1]["id"]);
    let created = OffsetDateTime::parse(inv["dateCreated"].as_str().expect("date"), &Rfc3339)
        .expect("RFC 3339 dateCreated");
    let expires = OffsetDateTime::parse(inv["expirationDate"].as_str().expect("date"), &Rfc3339)
        .expect("RFC 3339 expirationDate");
    assert_eq!(expires - created, time::Duration::days(30));
    OffsetDateTime::parse(inv["dateUpdated"].as_str().expect("date"), &Rfc3339)
        .expect("RFC 3339 dateUpdated");

    let site = e.state_site().await;
    let statuses: Vec<(&str, &str)> = site["invites"]
        .as_array()
        .expect("invites")
        .iter()
        .map(|i| {
            (
                i["email"].as_str().unwrap_or(""),
                i["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("dave@example.com", "Pending"),
            ("erin@example.com", "Pending")
        ]
    );
    assert_eq!(site["seatsUsed"], 4);

    let log = e.log().await;
    let entry = log
        .iter()
        .find(|l| l["path"] == "/invites/site-invite/bulk")
        .expect("bulk invite logged");
    assert_eq!(entry["method"], "POST");
    assert_eq!(entry["endpoint"], "bulkInvite");
    assert_eq!(entry["siteId"], SITE);
    assert_eq!(entry["status"], 200);
    assert_eq!(
        entry["requestBody"],
        json!({ "policyIds": ["role-blog-writer", "custom-seo-reviewer"],
                "emails": ["dave@example.com", "erin@example.com"] })
    );
}

#[tokio::test]
async fn bulk_invite_validation_errors() {
    let e = Emu::default().await;
    let (status, body) = e.invite(&[], &["role-blog-writer"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(violation_fields(&body), ["emails"]);

    let (status, body) = e.invite(&["a@example.com"], &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(violation_fields(&body), ["policyIds"]);

    // Several problems come back together; titles are not ids on the API,
    // and another account's custom role is unknown here.
    let (status, body) = e
        .invite(
            &["ok@example.com", "not-an-email"],
            &["Blog Writer", "custom-other"],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        violation_fields(&body),
        ["policyIds[0]", "policyIds[1]", "emails[1]"]
    );

    let (status, body) = e
        .send(
            e.site_req(Method::POST, "/invites/site-invite/bulk")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app_code(&body), "INVALID_ARGUMENT");
    // Nothing was created by the failed calls.
    assert_eq!(e.state_site().await["invites"], json!([]));
}

#[tokio::test]
async fn seat_limit_sends_extra_emails_to_failed_emails() {
    // Two contributors already use two of three seats.
    let e = Emu::start(&seed_yaml("", 3)).await;
    let (status, body) = e
        .invite(
            &["a@example.com", "b@example.com", "c@example.com"],
            &["role-blog-writer"],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["invites"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["invites"][0]["email"], "a@example.com");
    assert_eq!(
        body["failedEmails"],
        json!(["b@example.com", "c@example.com"])
    );
    assert_eq!(
        e.state_site().await["invites"].as_array().map(Vec::len),
        Some(1)
    );

    // An expired invite frees its seat.
    let (status, body) = e
        .control(
            Method::POST,
            "/_emulator/invites/expire",
            json!({ "siteId": SITE, "email": "a@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expired"].as_array().map(Vec::len), Some(1));
    let (_, body) = e.invite(&["b@example.com"], &["role-blog-writer"]).await;
    assert_eq!(body["failedEmails"], json!([]));
    assert_eq!(body["invites"][0]["email"], "b@example.com");
    // An expired invite cannot be accepted.
    let (status, _) = e
        .control(
            Method::POST,
            "/_emulator/invites/accept",
            json!({ "siteId": SITE, "email": "a@example.com", "accountId": "acct-a" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn accepting_an_invite_makes_a_contributor_with_its_roles() {
    let e = Emu::default().await;
    let (_, body) = e
        .invite(
            &["Dave@Example.com"],
            &["role-blog-writer", "custom-seo-reviewer"],
        )
        .await;
    let invite_id = body["invites"][0]["id"].as_str().expect("id").to_owned();

    let (status, body) = e
        .control(
            Method::POST,
            "/_emulator/invites/accept",
            json!({ "siteId": SITE, "email": "dave@example.com", "accountId": "acct-dave" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["invite"]["status"], "Used");
    assert_eq!(body["invite"]["acceptedByAccountId"], "acct-dave");

    let site = e.state_site().await;
    let dave = site["contributors"]
        .as_array()
        .expect("contributors")
        .iter()
        .find(|c| c["accountId"] == "acct-dave")
        .expect("dave is a contributor");
    assert_eq!(
        dave["roleIds"],
        json!(["role-blog-writer", "custom-seo-reviewer"])
    );
    assert_eq!(e.query(&["custom-seo-reviewer"]).await, ["acct-dave"]);

    // No longer pending: resend is 404, accepting again is 409.
    let (status, _) = e
        .send(e.site_req(
            Method::POST,
            &format!("/invites/site-invite/{invite_id}/resend"),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = e
        .control(
            Method::POST,
            "/_emulator/invites/accept",
            json!({ "inviteId": invite_id, "accountId": "acct-dave" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = e
        .control(
            Method::POST,
            "/_emulator/invites/accept",
            json!({ "siteId": SITE, "email": "nobody@example.com", "accountId": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn decline_marks_invite_declined() {
    let e = Emu::default().await;
    e.invite(&["f@example.com"], &["role-blog-writer"]).await;
    let (status, body) = e
        .control(
            Method::POST,
            "/_emulator/invites/decline",
            json!({ "siteId": SITE, "email": "f@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let site = e.state_site().await;
    assert_eq!(site["invites"][0]["status"], "Declined");
    assert_eq!(site["seatsUsed"], 2);
}

#[tokio::test]
async fn change_role_replaces_the_role_set() {
    let e = Emu::default().await;
    let path = "/roles-management/contributor/change/role";
    let (status, body) = e
        .send(e.site_req(Method::PUT, path).json(&json!({
            "accountId": "acct-bob",
            "newRoles": [{ "roleId": "custom-seo-reviewer" }, { "roleId": "role-blog-editor" }]
        })))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let assigned = body["newAssignedRoles"]
        .as_array()
        .expect("newAssignedRoles");
    assert_eq!(assigned.len(), 2);
    assert_eq!(assigned[0]["roleId"], "custom-seo-reviewer");
    assert!(assigned.iter().all(|a| a["assignmentId"].is_string()));
    // Website Manager is gone, Blog Editor kept, SEO Reviewer added.
    assert!(e.query(&["role-website-manager"]).await.is_empty());
    assert_eq!(e.query(&["role-blog-editor"]).await, ["acct-bob"]);
    assert_eq!(e.query(&["custom-seo-reviewer"]).await, ["acct-bob"]);

    let cases = [
        (
            json!({ "accountId": "acct-bob", "newRoles": [] }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "accountId": "acct-bob", "newRoles": [{ "roleId": "nope" }] }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "accountId": "acct-nobody", "newRoles": [{ "roleId": "role-admin" }] }),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({ "accountId": ACME, "newRoles": [{ "roleId": "role-admin" }] }),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (req, want) in cases {
        let (status, body) = e.send(e.site_req(Method::PUT, path).json(&req)).await;
        assert_eq!(status, want, "{req} -> {body}");
    }
}

#[tokio::test]
async fn remove_contributor_answers_post_and_405_for_delete() {
    let e = Emu::default().await;
    let path = "/roles-management/contributor/remove";
    let resp = e
        .site_req(Method::DELETE, path)
        .json(&json!({ "accountId": "acct-bob" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    assert_eq!(e.query(&[]).await.len(), 3, "405 changed nothing");

    let (status, body) = e
        .send(
            e.site_req(Method::POST, path)
                .json(&json!({ "accountId": "acct-bob" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({}));
    assert_eq!(e.query(&[]).await, [ACME, "acct-carol"]);

    let (status, _) = e
        .send(
            e.site_req(Method::POST, path)
                .json(&json!({ "accountId": "acct-bob" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = e
        .send(
            e.site_req(Method::POST, path)
                .json(&json!({ "accountId": ACME })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let log = e.log().await;
    assert_eq!(log[0]["endpoint"], "removeContributor");
    assert_eq!(log[0]["status"], 405);
}

#[tokio::test]
async fn remove_contributor_with_delete_seed_rejects_post() {
    let e = Emu::start(&seed_yaml("remove_method: DELETE", 10)).await;
    let path = "/roles-management/contributor/remove";
    let resp = e
        .site_req(Method::POST, path)
        .json(&json!({ "accountId": "acct-carol" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("DELETE")
    );
    // A DELETE reads its parameter from the query string, as a gateway
    // does; a body alone is not read (`quirks.remove_param: body` reads it).
    let (status, body) = e
        .send(
            e.site_req(Method::DELETE, path)
                .json(&json!({ "accountId": "acct-carol" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = e
        .send(
            e.site_req(Method::DELETE, path)
                .query(&[("accountId", "acct-carol")]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(e.query(&[]).await, [ACME, "acct-bob"]);
}

#[tokio::test]
async fn resend_and_revoke_invites() {
    let e = Emu::default().await;
    let (_, body) = e.invite(&["g@example.com"], &["role-blog-writer"]).await;
    let id = body["invites"][0]["id"].as_str().expect("id").to_owned();

    let (status, body) = e
        .send(e.site_req(Method::POST, &format!("/invites/site-invite/{id}/resend")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["invite"]["id"], id.as_str());
    assert_eq!(body["invite"]["status"], "Pending");

    // Another account's key cannot touch this site's invite.
    let (status, _) = e
        .send(
            e.http
                .post(e.url(&format!("/invites/site-invite/{id}/revoke")))
                .header("Authorization", OTHER_KEY)
                .header("wix-site-id", OTHER_SITE),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = e
        .send(e.site_req(Method::POST, &format!("/invites/site-invite/{id}/revoke")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({}));
    assert_eq!(e.state_site().await["invites"][0]["status"], "Deleted");

    let (status, _) = e
        .send(e.site_req(Method::POST, &format!("/invites/site-invite/{id}/revoke")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = e
        .send(e.site_req(Method::POST, "/invites/site-invite/no-such/resend"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// An email invited again while its first invite is pending: by default a
/// second invite beside the first (both pending, two seats), so a
/// duplicate shows in the state; `duplicate_invites: replace` deletes the
/// first and says by which. `/_emulator/invites` lists every invite either way.
#[tokio::test]
async fn a_second_invite_for_a_pending_email_is_kept_or_replaces_by_seed() {
    let e = Emu::default().await;
    for _ in 0..2 {
        let (status, body) = e.invite(&["d@example.com"], &["role-blog-writer"]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let invites = e.state_site().await["invites"].clone();
    let statuses: Vec<&str> = invites
        .as_array()
        .expect("invites")
        .iter()
        .map(|i| i["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["Pending", "Pending"]);
    assert_eq!(e.state_site().await["seatsUsed"], 4);

    let e = Emu::start(&seed_yaml("duplicate_invites: replace", 10)).await;
    for _ in 0..2 {
        let (status, body) = e.invite(&["d@example.com"], &["role-blog-writer"]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, all) = e.send(e.http.get(e.url("/_emulator/invites"))).await;
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().expect("list").clone();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0]["siteId"], SITE);
    assert_eq!(all[0]["email"], "d@example.com");
    assert_eq!(all[0]["status"], "Deleted");
    assert_eq!(all[0]["replacedBy"], all[1]["id"]);
    assert_eq!(all[1]["status"], "Pending");
    assert_eq!(all[1]["replacedBy"], Value::Null);
    assert_eq!(e.state_site().await["seatsUsed"], 3);
}

#[tokio::test]
async fn there_is_no_invite_listing_endpoint() {
    let e = Emu::default().await;
    e.invite(&["h@example.com"], &["role-blog-writer"]).await;
    for path in [
        "/invites/site-invite",
        "/invites/site-invite/query",
        "/roles-management/v2/contributors",
    ] {
        let (status, body) = e.send(e.site_req(Method::GET, path)).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {status} {body}"
        );
        assert!(!body.to_string().contains("h@example.com"));
    }
}

#[tokio::test]
async fn drift_controls_set_and_delete_contributors() {
    let e = Emu::default().await;
    let (status, body) = e
        .control(
            Method::PUT,
            "/_emulator/contributors",
            json!({ "siteId": SITE, "accountId": "acct-zed", "roleIds": ["Admin (Co-Owner)"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["roleIds"], json!(["role-admin"]));
    assert_eq!(e.query(&["role-admin"]).await, ["acct-zed"]);

    let (status, _) = e
        .control(
            Method::DELETE,
            "/_emulator/contributors",
            json!({ "siteId": SITE, "accountId": "acct-zed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(e.query(&["role-admin"]).await.is_empty());

    let (status, _) = e
        .control(
            Method::PUT,
            "/_emulator/contributors",
            json!({ "siteId": SITE, "accountId": "acct-zed", "roleIds": ["No Such Role"] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn log_and_errors_never_contain_the_api_key() {
    let e = Emu::default().await;
    let mut bodies = Vec::new();
    bodies.push(e.query(&[]).await.join(","));
    let (_, b) = e.invite(&["i@example.com"], &["role-blog-writer"]).await;
    bodies.push(b.to_string());
    let (_, b) = e
        .send(
            e.http
                .get(e.url("/roles-management/v2/contributors/query"))
                .header("Authorization", format!("{KEY}-typo"))
                .header("wix-site-id", SITE),
        )
        .await;
    bodies.push(b.to_string());
    let (_, b) = e
        .send(
            e.http
                .get(e.url("/roles-management/v2/contributors/query"))
                .header("Authorization", OTHER_KEY)
                .header("wix-site-id", SITE),
        )
        .await;
    bodies.push(b.to_string());

    let log = e.log().await;
    assert_eq!(log.len(), 4);
    let seqs: Vec<u64> = log.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    let text = serde_json::to_string(&log).expect("json");
    let state = e
        .send(e.http.get(e.url("/_emulator/state")))
        .await
        .1
        .to_string();
    for haystack in bodies.iter().chain([&text, &state]) {
        assert!(!haystack.contains("SECRET"), "key leaked: {haystack}");
    }

    let (status, _) = e.send(e.http.delete(e.url("/_emulator/log"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(e.log().await.is_empty());
}

#[tokio::test]
async fn clock_control_expires_old_invites() {
    let e = Emu::start(&seed_yaml("clock: \"2025-01-01T00:00:00Z\"", 10)).await;
    let (_, body) = e.invite(&["j@example.com"], &["role-blog-writer"]).await;
    assert_eq!(body["invites"][0]["dateCreated"], "2025-01-01T00:00:00Z");
    assert_eq!(body["invites"][0]["expirationDate"], "2025-01-31T00:00:00Z");
    let (status, _) = e
        .control(
            Method::PUT,
            "/_emulator/clock",
            json!({ "now": "2025-02-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let site = e.state_site().await;
    assert_eq!(site["invites"][0]["status"], "Expired");
    assert_eq!(site["seatsUsed"], 2);
}

#[test]
fn seed_errors_name_the_problem() {
    let cases = [
        (
            "sites: [ { id: s1, account: ghost } ]",
            "account \"ghost\" is not listed",
        ),
        (
            "accounts: [ { id: a1 } ]\nsites: [ { id: s1, account: a1, contributors: [ { account_id: b, roles: [\"Chief Wizard\"] } ] } ]",
            "unknown role \"Chief Wizard\"",
        ),
        (
            "accounts: [ { id: a1 }, { id: a1 } ]",
            "duplicate account id \"a1\"",
        ),
        (
            "accounts: [ { id: a1 } ]\nsites: [ { id: s1, account: a1 }, { id: s1, account: a1 } ]",
            "duplicate site id \"s1\"",
        ),
        ("remove_method: PATCH", "invalid YAML"),
        ("acounts: []", "invalid YAML"),
    ];
    for (yaml, want) in cases {
        match emulator::parse_seed(yaml) {
            Ok(_) => panic!("seed should fail: {yaml}"),
            Err(err) => {
                let msg = err.to_string();
                assert!(msg.contains(want), "{yaml}\n=> {msg}");
            }
        }
    }

    // Duplicate keys are reported without quoting the key.
    let yaml = "accounts: [ { id: a1, api_keys: [SECRET-K] }, { id: a2, api_keys: [SECRET-K] } ]";
    let msg = emulator::parse_seed(yaml)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("also a key of account \"a1\""), "{msg}");
    assert!(!msg.contains("SECRET"), "{msg}");
}

#[test]
fn load_seed_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seed.yaml");
    std::fs::write(&path, "sites: [ { id: s1, account: ghost } ]").expect("write");
    let msg = emulator::load_seed(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("seed.yaml"), "{msg}");
    assert!(msg.contains("ghost"), "{msg}");

    let missing = dir.path().join("missing.yaml");
    let msg = emulator::load_seed(&missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("missing.yaml"), "{msg}");

    std::fs::write(&path, seed_yaml("", 10)).expect("write");
    let seed = emulator::load_seed(&path).expect("valid seed loads");
    assert_eq!(seed.sites.len(), 2);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let e = Emu::default().await;
    let url = e.url("/_emulator/state");
    let Emu { emu, http } = e;
    emu.shutdown().await;
    assert!(http.get(url).send().await.is_err());
}

//! Request mode end to end, over loopback only: an SMTP server and a webhook
//! receiver started by the test receive the access requests `apply` sends;
//! the clock is pinned with `ACCESSCTL_NOW` to walk through reminders and
//! stalling; failures leave nothing recorded and are retried.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use accessctl::ledger::{self, RequestState, SiteLedger};
use accessctl::plan::{Action, Plan, RequestStatus, SitePlan};
use common::{Harness, stderr, stdout};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

/// The emulator needs something to serve; request-mode sites never reach it.
const SEED: &str = r#"
accounts:
  - { id: acc-1, api_keys: [key-shop] }
sites:
  - id: site-shop
    account: acc-1
"#;

const T0: &str = "2026-10-01T09:00:00Z";

fn at(days: i64, hours: i64) -> String {
    let t0 = time::OffsetDateTime::parse(T0, &time::format_description::well_known::Rfc3339)
        .expect("T0");
    (t0 + time::Duration::days(days) + time::Duration::hours(hours))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// A config with one request-mode site; `requests` is the `requests:`
/// block's body, indented by four spaces.
fn config(requests: &str) -> String {
    format!(
        r#"
version: 2
people:
  alice: {{ email: alice@agency.example }}
  bob:   {{ email: bob@agency.example }}
sites:
  shop:
    wix: {{ site_id: site-shop, account_id: acc-1 }}
    owner: {{ name: Jane Shop, email: jane@shop.example }}
    access:
      - person: alice
        roles: [Website Manager, Blog Editor]
      - person: bob
        role: Marketing Manager
requests:
{requests}
"#
    )
}

fn email_config(port: u16) -> String {
    config(&format!(
        r#"    agency: Test Agency
    email:
      from: {{ name: Test Agency, email: access@agency.example }}
      reply_to: alice@agency.example
      smtp: {{ host: 127.0.0.1, port: {port}, security: none }}
    reminder_after_days: 3
    max_reminders: 1"#
    ))
}

fn webhook_config() -> String {
    config(
        r#"    agency: Test Agency
    webhook: { url_env: TEST_HOOK_URL, secret_env: TEST_HOOK_SECRET }"#,
    )
}

const SECRET: &str = "whsec-test-0123456789abcdef";

// ---------------------------------------------------------------------------
// A tiny SMTP server: EHLO, MAIL, RCPT, DATA, QUIT; plain text, loopback.

#[derive(Debug, Clone)]
struct Mail {
    from: String,
    rcpt: Vec<String>,
    data: String,
}

impl Mail {
    fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        // Unfold continued header lines.
        let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The body, quoted-printable decoded, with `\n` line ends; the line
    /// breaks SMTP framing adds at the end are dropped.
    fn body(&self) -> String {
        let (_, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", ""));
        let text = decode_qp(body).replace("\r\n", "\n");
        format!("{}\n", text.trim_end_matches('\n'))
    }
}

fn decode_qp(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 body")
}

#[derive(Clone, Default)]
struct Smtp {
    mails: Arc<Mutex<Vec<Mail>>>,
    /// When set, RCPT TO is refused with this reply.
    refuse: Arc<Mutex<Option<String>>>,
}

impl Smtp {
    fn start(h: &Harness) -> (Smtp, u16) {
        let smtp = Smtp::default();
        let listener =
            h.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = smtp.clone();
        h.rt.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move { server.session(stream).await });
            }
        });
        (smtp, port)
    }

    async fn session(&self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 test.local ESMTP\r\n").await;
        let mut mail = Mail {
            from: String::new(),
            rcpt: Vec::new(),
            data: String::new(),
        };
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-test.local\r\n250 8BITMIME".to_string()
            } else if upper.starts_with("MAIL FROM:") {
                mail.from = address(&line);
                "250 OK".to_string()
            } else if upper.starts_with("RCPT TO:") {
                match self.refuse.lock().expect("lock").clone() {
                    Some(refusal) => refusal,
                    None => {
                        mail.rcpt.push(address(&line));
                        "250 OK".to_string()
                    }
                }
            } else if upper == "DATA" {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    let l = l
                        .strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l);
                    data.push_str(l);
                    data.push_str("\r\n");
                }
                mail.data = data;
                self.mails.lock().expect("lock").push(mail.clone());
                "250 queued".to_string()
            } else if upper == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                "250 OK".to_string()
            };
            let _ = write.write_all(format!("{reply}\r\n").as_bytes()).await;
        }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("lock").clone()
    }

    fn refuse(&self, reply: Option<&str>) {
        *self.refuse.lock().expect("lock") = reply.map(String::from);
    }
}

/// `MAIL FROM:<a@b> BODY=8BITMIME` → `a@b`.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.find('>').unwrap_or(line.len());
    line[start..end].to_string()
}

// ---------------------------------------------------------------------------
// A webhook receiver.

#[derive(Debug, Clone)]
struct Post {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Hook {
    posts: Arc<Mutex<Vec<Post>>>,
    status: Arc<AtomicU16>,
}

impl Hook {
    fn start(h: &Harness) -> (Hook, String) {
        let hook = Hook {
            posts: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
        };
        let listener =
            h.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = hook.clone();
        let app = axum::Router::new().route(
            "/hooks/{token}",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = state.clone();
                    async move {
                        let headers = headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect();
                        state.posts.lock().expect("lock").push(Post {
                            headers,
                            body: body.to_vec(),
                        });
                        let status = state.status.load(Ordering::SeqCst);
                        (
                            axum::http::StatusCode::from_u16(status).expect("status"),
                            "receiver says so",
                        )
                    }
                },
            ),
        );
        h.rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (hook, format!("http://{addr}/hooks/tok-SECRETPATH"))
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().expect("lock").clone()
    }
}

// ---------------------------------------------------------------------------
// Helpers.

fn harness(config: &str) -> Harness {
    Harness::new(SEED, config, &[])
}

fn plan_at(h: &Harness, now: &str) -> Plan {
    let out = h
        .cmd(&["plan", "--format", "json", "--detailed-exitcode"])
        .env("ACCESSCTL_NOW", now)
        .output()
        .expect("runs");
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "plan failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("plan JSON")
}

fn shop(plan: &Plan) -> &SitePlan {
    plan.sites.iter().find(|s| s.site == "shop").expect("shop")
}

fn apply_at(h: &Harness, now: &str) -> std::process::Output {
    h.cmd(&["apply", "--auto-approve"])
        .env("ACCESSCTL_NOW", now)
        .output()
        .expect("runs")
}

fn ledger_of(h: &Harness) -> SiteLedger {
    ledger::load(&h.ledger_dir(), "shop", "site-shop", &ledger::Auth::Off).expect("ledger loads")
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------
// Email.

#[test]
fn email_request_reaches_the_owner_with_recipients_subject_and_steps() {
    let h = harness(&config(
        "    agency: x\n    webhook: { url_env: X, secret_env: Y }",
    ));
    let (smtp, port) = Smtp::start(&h);
    h.write_config(&email_config(port));

    let plan = plan_at(&h, T0);
    let site = shop(&plan);
    let request = site.request.as_ref().expect("a request");
    assert_eq!(request.status, RequestStatus::New);
    assert_eq!(request.problem, None);
    assert_eq!(
        site.changes
            .iter()
            .map(|c| (c.action, c.who.as_str()))
            .collect::<Vec<_>>(),
        [(Action::Request, "alice"), (Action::Request, "bob")]
    );
    let planned = request.message.clone().expect("the message apply sends");

    let out = apply_at(&h, T0);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("access request sent to jane@shop.example by email"),
        "{}",
        stdout(&out)
    );

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "one message per site");
    let mail = &mails[0];
    assert_eq!(mail.from, "access@agency.example");
    assert_eq!(mail.rcpt, ["jane@shop.example"]);
    assert_eq!(
        mail.header("To").as_deref(),
        Some("\"Jane Shop\" <jane@shop.example>")
    );
    assert_eq!(
        mail.header("Reply-To").as_deref(),
        Some("alice@agency.example")
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Access request from Test Agency for your Wix site shop")
    );
    assert_eq!(
        mail.header("Date").as_deref(),
        Some("Thu, 01 Oct 2026 09:00:00 +0000")
    );
    let body = mail.body();
    // What was sent is exactly what the plan showed.
    assert_eq!(body, planned.body);
    assert_eq!(planned.subject, mail.header("Subject").unwrap_or_default());
    for expected in [
        "Hello Jane Shop,",
        "- alice@agency.example: Blog Editor and Website Manager",
        "- bob@agency.example: Marketing Manager",
        "https://manage.wix.com/dashboard/site-shop",
        "Go to Settings → Roles & Permissions.",
        "Click \"Invite People\" (in some dashboards: \"Add Collaborators\").",
        "Enter the email address of one person on the list above.",
        "Click \"Send Invite\".",
        "What we will do with this access:",
        "Test Agency",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in:\n{body}");
    }

    let l = ledger_of(&h);
    assert_eq!(l.requests.len(), 1);
    let record = &l.requests[0];
    assert_eq!(record.to, "jane@shop.example");
    assert_eq!(record.state, RequestState::Open);
    assert_eq!(record.digest, planned.digest);
    assert_eq!(record.sent_at.unix_timestamp(), 1_790_845_200);
    assert_eq!(
        record
            .grants
            .iter()
            .map(|g| (g.email.as_str(), g.roles.join(",")))
            .collect::<Vec<_>>(),
        [
            (
                "alice@agency.example",
                "Blog Editor,Website Manager".to_string()
            ),
            ("bob@agency.example", "Marketing Manager".to_string())
        ]
    );
    let message_id = mail.header("Message-ID").expect("Message-ID");
    assert_eq!(
        Some(message_id.trim_matches(|c| c == '<' || c == '>')),
        record.message_id.as_deref()
    );
}

#[test]
fn second_apply_within_the_interval_sends_nothing() {
    let h = harness(&config(
        "    agency: x\n    webhook: { url_env: X, secret_env: Y }",
    ));
    let (smtp, port) = Smtp::start(&h);
    h.write_config(&email_config(port));
    assert!(apply_at(&h, T0).status.success());

    let later = at(2, 23);
    let plan = plan_at(&h, &later);
    let site = shop(&plan);
    assert!(site.changes.is_empty(), "{:?}", site.changes);
    let request = site.request.as_ref().expect("request status");
    assert_eq!(request.status, RequestStatus::Sent);
    assert_eq!(request.sent_at.as_deref(), Some(T0));
    assert_eq!(
        request.next_reminder_at.as_deref(),
        Some("2026-10-04T09:00:00Z")
    );
    assert_eq!(request.message, None);

    let out = h
        .cmd(&["plan", "--detailed-exitcode"])
        .env("ACCESSCTL_NOW", &later)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "nothing pending");
    assert!(
        stdout(&out).contains(
            "request: access request sent 2026-10-01 to Jane Shop <jane@shop.example> by email; no answer yet; reminder due 2026-10-04"
        ),
        "{}",
        stdout(&out)
    );

    let out = apply_at(&h, &later);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(smtp.mails().len(), 1, "nothing new was sent");
    assert_eq!(ledger_of(&h).requests.len(), 1);
}

#[test]
fn a_reminder_goes_after_the_interval_then_the_request_stalls() {
    let h = harness(&config(
        "    agency: x\n    webhook: { url_env: X, secret_env: Y }",
    ));
    let (smtp, port) = Smtp::start(&h);
    h.write_config(&email_config(port));
    assert!(apply_at(&h, T0).status.success());

    // Three days later: one reminder is due.
    let due = at(3, 0);
    let plan = plan_at(&h, &due);
    let site = shop(&plan);
    let request = site.request.as_ref().expect("request");
    assert_eq!(request.status, RequestStatus::Reminder);
    assert_eq!(site.changes.len(), 2);
    assert!(
        site.changes[0]
            .reason
            .starts_with("reminder 1 of 1: no answer to the request sent 2026-10-01"),
        "{}",
        site.changes[0].reason
    );
    let reminder = request.message.clone().expect("reminder text");
    assert_eq!(
        reminder.subject,
        "Reminder: Access request from Test Agency for your Wix site shop"
    );
    assert!(
        reminder
            .body
            .contains("We wrote to you about this on 1 October 2026"),
        "{}",
        reminder.body
    );

    let out = apply_at(&h, &due);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    let first_id = mails[0].header("Message-ID").expect("id");
    assert_eq!(mails[1].header("In-Reply-To"), Some(first_id.clone()));
    assert_eq!(mails[1].header("References"), Some(first_id));
    assert_eq!(mails[1].body(), reminder.body);
    let l = ledger_of(&h);
    assert_eq!(l.requests[0].reminders.len(), 1);
    assert_eq!(l.requests[0].reminders[0].digest, reminder.digest);

    // Before the reminder's own interval passes: waiting.
    let plan = plan_at(&h, &at(5, 0));
    let request = shop(&plan).request.clone().expect("request");
    assert_eq!(request.status, RequestStatus::Sent);
    assert_eq!(request.reminders_sent, 1);
    assert_eq!(request.stalls_at.as_deref(), Some("2026-10-07T09:00:00Z"));

    // After it: stalled; apply sends nothing more and says so.
    let stalled = at(6, 1);
    let plan = plan_at(&h, &stalled);
    let site = shop(&plan);
    assert!(site.changes.is_empty());
    assert_eq!(
        site.request.as_ref().map(|r| r.status),
        Some(RequestStatus::Stalled)
    );
    assert!(
        site.warnings.iter().any(|w| w.contains("is stalled")
            && w.contains("accessctl request done shop")
            && w.contains("accessctl request resend shop")),
        "{:?}",
        site.warnings
    );
    let out = apply_at(&h, &stalled);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("access request stalled"),
        "{}",
        stdout(&out)
    );
    assert_eq!(smtp.mails().len(), 2, "nothing after the last reminder");

    // `request resend` starts over: a new request, no reminders.
    let out = h
        .cmd(&["request", "resend", "shop"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = plan_at(&h, &stalled);
    assert_eq!(
        shop(&plan).request.as_ref().map(|r| r.status),
        Some(RequestStatus::New)
    );
    assert!(apply_at(&h, &stalled).status.success());
    assert_eq!(smtp.mails().len(), 3);
    let l = ledger_of(&h);
    assert_eq!(
        l.requests.iter().map(|r| r.state).collect::<Vec<_>>(),
        [RequestState::Superseded, RequestState::Open]
    );
}

#[test]
fn a_refused_email_is_reported_left_unrecorded_and_retried() {
    let h = harness(&config(
        "    agency: x\n    webhook: { url_env: X, secret_env: Y }",
    ));
    let (smtp, port) = Smtp::start(&h);
    h.write_config(&email_config(port));
    smtp.refuse(Some("550 5.1.1 mailbox unavailable"));

    let out = apply_at(&h, T0);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("FAILED  request alice"), "{text}");
    assert!(text.contains("mailbox unavailable"), "{text}");
    assert!(text.contains("2 failed"), "{text}");
    assert!(smtp.mails().is_empty());
    assert!(ledger_of(&h).requests.is_empty(), "nothing recorded");
    assert_eq!(
        shop(&plan_at(&h, T0)).request.as_ref().map(|r| r.status),
        Some(RequestStatus::New),
        "still to send"
    );

    smtp.refuse(None);
    let out = apply_at(&h, &at(0, 1));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(ledger_of(&h).requests.len(), 1);
}

#[test]
fn an_unreachable_smtp_server_fails_the_site_not_the_others() {
    // A port nothing listens on, and a managed site that applies anyway.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut text = email_config(dead);
    text = text.replace(
        "sites:\n",
        "sites:\n  managed:\n    wix: { site_id: site-shop-2, account_id: acc-1, api_key_env: SHOP_KEY }\n    access:\n      - { person: alice, role: Blog Editor }\n",
    );
    let seed = format!("{SEED}  - id: site-shop-2\n    account: acc-1\n");
    let h = Harness::new(&seed, &text, &[("SHOP_KEY", "key-shop")]);
    let out = h
        .cmd(&["apply", "--auto-approve", "--timeout", "5"])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("site managed:\n      done  invite alice"),
        "{text}"
    );
    assert!(text.contains("FAILED  request alice"), "{text}");
    assert!(ledger_of(&h).requests.is_empty());
}

// ---------------------------------------------------------------------------
// Webhook.

#[test]
fn webhook_request_is_signed_and_carries_the_message() {
    let mut h = harness(&webhook_config());
    let (hook, url) = Hook::start(&h);
    h.env.push(("TEST_HOOK_URL".into(), url));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));

    let plan = plan_at(&h, T0);
    let planned = shop(&plan)
        .request
        .as_ref()
        .and_then(|r| r.message.clone())
        .expect("message");
    let out = h
        .cmd(&["-vvv", "apply", "--auto-approve"])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(SECRET), "the secret is never printed");
    assert!(
        !all.contains("SECRETPATH"),
        "the URL's path is never printed"
    );

    let posts = hook.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(
        post.headers.get("x-accessctl-signature"),
        Some(&format!("sha256={}", hmac_hex(SECRET, &post.body)))
    );
    assert_eq!(
        post.headers
            .get("x-accessctl-timestamp")
            .map(String::as_str),
        Some("1790845200")
    );
    assert_eq!(
        post.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let json: Value = serde_json::from_slice(&post.body).expect("JSON body");
    assert_eq!(
        post.headers.get("x-accessctl-delivery").map(String::as_str),
        json["id"].as_str()
    );
    assert_eq!(json["type"], "accessctl.access-request");
    assert_eq!(json["version"], 1);
    assert_eq!(json["kind"], "request");
    assert_eq!(json["reminder"], 0);
    assert_eq!(json["sent_at"], T0);
    assert_eq!(json["agency"], "Test Agency");
    assert_eq!(json["site"], "shop");
    assert_eq!(json["site_id"], "site-shop");
    assert_eq!(json["to"]["email"], "jane@shop.example");
    assert_eq!(json["to"]["name"], "Jane Shop");
    assert_eq!(json["grants"][0]["email"], "alice@agency.example");
    assert_eq!(
        json["grants"][0]["roles"],
        serde_json::json!(["Blog Editor", "Website Manager"])
    );
    assert_eq!(json["subject"], planned.subject.as_str());
    assert_eq!(json["text"], planned.body.as_str());
    assert_eq!(json["digest"], planned.digest.as_str());

    let l = ledger_of(&h);
    assert_eq!(l.requests.len(), 1);
    assert_eq!(
        l.requests[0].channel,
        accessctl::model::requests::Channel::Webhook
    );
    assert_eq!(l.requests[0].message_id, None);

    // A second apply within the interval posts nothing.
    assert!(apply_at(&h, &at(1, 0)).status.success());
    assert_eq!(hook.posts().len(), 1);
}

#[test]
fn a_failing_webhook_is_reported_left_unrecorded_and_retried() {
    let mut h = harness(&webhook_config());
    let (hook, url) = Hook::start(&h);
    h.env.push(("TEST_HOOK_URL".into(), url));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));
    hook.status.store(500, Ordering::SeqCst);

    let out = apply_at(&h, T0);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("the webhook at http://127.0.0.1:")
            && text.contains("answered HTTP 500: receiver says so"),
        "{text}"
    );
    assert!(!text.contains("SECRETPATH"), "{text}");
    assert!(ledger_of(&h).requests.is_empty());

    hook.status.store(204, Ordering::SeqCst);
    let out = apply_at(&h, &at(0, 2));
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(hook.posts().len(), 2, "tried again");
    assert_eq!(ledger_of(&h).requests.len(), 1);
}

#[test]
fn a_webhook_without_its_variables_or_over_plain_http_sends_nothing() {
    let mut h = harness(&webhook_config());
    let out = apply_at(&h, T0);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("environment variable `TEST_HOOK_URL` is not set"),
        "{}",
        stdout(&out)
    );
    h.env.push((
        "TEST_HOOK_URL".into(),
        "http://hooks.example.com/T000/SECRETPATH".into(),
    ));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));
    let out = apply_at(&h, T0);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("refusing the webhook URL in `TEST_HOOK_URL` (http://hooks.example.com)"),
        "{text}"
    );
    assert!(!text.contains("SECRETPATH"));
    assert!(ledger_of(&h).requests.is_empty());
}

// ---------------------------------------------------------------------------
// Settling requests, config changes, switching to a key.

#[test]
fn request_done_stops_asking_and_new_grants_are_asked_for() {
    let mut h = harness(&webhook_config());
    let (hook, url) = Hook::start(&h);
    h.env.push(("TEST_HOOK_URL".into(), url));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));
    assert!(apply_at(&h, T0).status.success());

    let out = h
        .cmd(&["request", "done", "shop", "--email", "Alice@agency.example"])
        .env("ACCESSCTL_NOW", at(1, 0))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(
        "marked alice@agency.example (Blog Editor, Website Manager) as granted by the owner on site `shop`"
    ));
    let plan = plan_at(&h, &at(1, 0));
    let request = shop(&plan).request.clone().expect("bob still waits");
    assert_eq!(request.status, RequestStatus::Sent);
    assert_eq!(
        request
            .grants
            .iter()
            .map(|g| g.email.as_str())
            .collect::<Vec<_>>(),
        ["bob@agency.example"]
    );

    let out = h
        .cmd(&[
            "request",
            "done",
            "shop",
            "--email",
            "nobody@agency.example",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("outstanding: bob@agency.example"),
        "{}",
        stderr(&out)
    );

    let out = h.cmd(&["request", "done", "shop"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = plan_at(&h, &at(10, 0));
    let site = shop(&plan);
    assert_eq!(site.request, None, "nothing left to ask for");
    assert!(site.changes.is_empty());
    assert!(
        site.after
            .lines()
            .any(|l| l == "bob@agency.example (granted by the owner): Marketing Manager"),
        "{:?}",
        site.after
    );
    assert_eq!(ledger_of(&h).requests[0].state, RequestState::Done);

    // The config gives bob another role: the owner is asked to change
    // bob's roles (bob is on the site already), not to invite him again.
    let changed = webhook_config().replace(
        "role: Marketing Manager",
        "roles: [Marketing Manager, Blog Writer]",
    );
    h.write_config(&changed);
    let plan = plan_at(&h, &at(10, 0));
    let site = shop(&plan);
    let request = site.request.clone().expect("a new request");
    assert_eq!(request.status, RequestStatus::New);
    assert_eq!(
        site.changes
            .iter()
            .map(|c| (c.action, c.who.as_str()))
            .collect::<Vec<_>>(),
        [(Action::RequestChange, "bob")]
    );
    assert!(request.grants.is_empty());
    assert_eq!(request.changes[0].from, ["Marketing Manager"]);
    assert_eq!(
        request.changes[0].roles,
        ["Blog Writer", "Marketing Manager"]
    );
    let body = request.message.expect("message").body;
    assert!(
        body.contains(
            "Please change the roles of:\n\n- bob@agency.example: from Marketing Manager to Blog Writer and Marketing Manager"
        ),
        "{body}"
    );
    assert!(
        body.contains("Find bob@agency.example in the list of collaborators"),
        "{body}"
    );
    assert!(!body.contains("Invite People"), "{body}");
    assert!(!body.contains("alice@"), "{body}");
    assert!(apply_at(&h, &at(10, 0)).status.success());
    assert_eq!(hook.posts().len(), 2);
}

#[test]
fn adding_a_key_switches_the_site_to_normal_mode() {
    let mut h = harness(&webhook_config());
    let (_hook, url) = Hook::start(&h);
    h.env.push(("TEST_HOOK_URL".into(), url));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));
    assert!(apply_at(&h, T0).status.success());
    h.write_config(&webhook_config().replace(
        "account_id: acc-1 }",
        "account_id: acc-1, api_key_env: SHOP_KEY }",
    ));
    h.env.push(("SHOP_KEY".into(), "key-shop".into()));
    let plan = plan_at(&h, &at(1, 0));
    let site = shop(&plan);
    assert_eq!(site.mode, accessctl::plan::Mode::Managed);
    assert_eq!(site.request, None);
    assert!(
        site.changes.iter().all(|c| c.action == Action::Invite),
        "{:?}",
        site.changes
    );
    assert_eq!(site.changes.len(), 2);
}

#[test]
fn a_site_can_choose_its_channel_recipient_and_purpose() {
    let h = harness(&config(
        "    agency: x\n    webhook: { url_env: X, secret_env: Y }",
    ));
    let (smtp, port) = Smtp::start(&h);
    let text = email_config(port)
        .replace(
            "    max_reminders: 1",
            "    max_reminders: 1\n    channel: email\n    webhook: { url_env: TEST_HOOK_URL, secret_env: TEST_HOOK_SECRET }",
        )
        .replace(
            "    owner: { name: Jane Shop, email: jane@shop.example }",
            "    owner: { name: Jane Shop, email: jane@shop.example }\n    request:\n      channel: email\n      to: { email: office@shop.example }\n      purpose: we run your spring campaign.",
        );
    h.write_config(&text);
    let plan = plan_at(&h, T0);
    let request = shop(&plan).request.clone().expect("request");
    assert_eq!(
        request.to.as_ref().map(|t| t.email.as_str()),
        Some("office@shop.example")
    );
    let body = request.message.expect("message").body;
    assert!(body.starts_with("Hello there,\n"), "{body}");
    assert!(body.contains("What we will do with this access: we run your spring campaign."));
    assert!(apply_at(&h, T0).status.success());
    assert_eq!(smtp.mails()[0].rcpt, ["office@shop.example"]);
}

#[test]
fn a_custom_template_is_used_and_checked() {
    let h = harness(&webhook_config());
    std::fs::write(
        h.dir.path().join("request.txt"),
        "Subject: {{agency}} needs access to {{ site }}\n\nDear {{owner_name}},\n\n{{grants}}\n\n{{steps}}\n",
    )
    .expect("write template");
    h.write_config(&webhook_config().replace(
        "    agency: Test Agency",
        "    agency: Test Agency\n    template: request.txt",
    ));
    let plan = plan_at(&h, T0);
    let message = shop(&plan)
        .request
        .clone()
        .and_then(|r| r.message)
        .expect("message");
    assert_eq!(message.subject, "Test Agency needs access to shop");
    assert!(
        message.body.starts_with("Dear Jane Shop,\n\n- alice@"),
        "{}",
        message.body
    );

    std::fs::write(h.dir.path().join("request.txt"), "Dear {{onwer_name}},\n")
        .expect("write template");
    let out = h.cmd(&["validate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("request.txt:1:6: unknown placeholder `{{onwer_name}}`"),
        "{err}"
    );
    assert!(err.contains("did you mean `{{owner_name}}`?"), "{err}");
}

// ---------------------------------------------------------------------------
// Config rules.

fn load_errors(text: &str) -> String {
    match accessctl::config::load_str(Path::new("access.yaml"), text.as_bytes()) {
        Ok(loaded) => format!("ok\n{}", loaded.warnings.render()),
        Err(report) => report.render(),
    }
}

#[test]
fn config_keeps_secrets_out_and_checks_channels() {
    let secret = "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let text = config(&format!(
        "    agency: A\n    webhook: {{ url_env: {secret}, secret_env: HOOK_SECRET }}"
    ));
    let report = load_errors(&text);
    assert!(
        report.contains("`requests.webhook.url_env` looks like a secret itself"),
        "{report}"
    );
    assert!(!report.contains(secret), "{report}");

    let text = config(
        "    agency: A\n    email:\n      from: { email: a@agency.example }\n      smtp: { host: smtp.agency.example, username_env: U, password_env: P }",
    );
    let report = load_errors(&text);
    assert!(
        report.contains("the SMTP credentials would be sent to `requests.email.smtp.host`"),
        "{report}"
    );
    assert!(report.contains("host_env: SMTP_HOST"), "{report}");

    let text = config(
        "    agency: A\n    email:\n      from: { email: a@agency.example }\n      smtp: { host: smtp.agency.example, security: none }",
    );
    let report = load_errors(&text);
    assert!(
        report.contains(
            "`security: none` sends mail unencrypted, which is allowed only to a loopback host"
        ),
        "{report}"
    );

    let text =
        config("    agency: A\n    channel: email\n    webhook: { url_env: U, secret_env: S }");
    let report = load_errors(&text);
    assert!(
        report.contains("`requests.channel` is `email`, but `requests.email` is not configured"),
        "{report}"
    );

    let text = config("    agency: A").replace(
        "    owner: { name: Jane Shop, email: jane@shop.example }",
        "    owner: { name: Jane Shop, email: jane@shop.example }\n    request: { channel: webhook }",
    );
    let report = load_errors(&text);
    assert!(
        report.contains("`requests` configures no channel"),
        "{report}"
    );
    assert!(
        report.contains(
            "site `shop` asks for the `webhook` channel, but `requests.webhook` is not configured"
        ),
        "{report}"
    );

    let text = config(
        "    agency: A\n    webhook: { url_env: U, secret_env: S }\n    reminder_after_days: 0\n    bogus: 1",
    );
    let report = load_errors(&text);
    assert!(report.contains("unknown key `bogus`"), "{report}");
    assert!(
        report.contains("`reminder_after_days` is too small"),
        "{report}"
    );
}

#[test]
fn without_a_requests_block_the_plan_says_why_nothing_can_be_sent() {
    let text = config("    agency: A\n    webhook: { url_env: U, secret_env: S }");
    let text = &text[..text.find("requests:").expect("block")];
    let h = harness(text);
    let plan = plan_at(&h, T0);
    let request = shop(&plan).request.clone().expect("request");
    assert!(
        request
            .problem
            .as_deref()
            .is_some_and(|p| p.starts_with("the config has no `requests:` block")),
        "{request:?}"
    );
    assert!(request.message.is_some(), "the message is still shown");
    let out = apply_at(&h, T0);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not sent: the config has no `requests:` block"));
}

// ---------------------------------------------------------------------------
// What people read.

#[test]
fn plan_text_shows_the_exact_message() {
    let h = harness(&webhook_config());
    let out = h
        .cmd(&["plan"])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("request_plan_text", stdout(&out));
}

#[test]
fn plan_on_the_example_shows_the_request_for_delta_plumbing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    let config = std::fs::read_to_string(root.join("agency.yaml")).expect("config");
    let h = Harness::new(&seed, &config, &common::agency_keys());
    let plan = h.plan();
    let site = plan
        .sites
        .iter()
        .find(|s| s.site == "delta-plumbing")
        .expect("delta-plumbing");
    let request = site.request.clone().expect("request");
    assert_eq!(request.status, RequestStatus::New);
    assert_eq!(
        request.channel,
        Some(accessctl::model::requests::Channel::Webhook)
    );
    assert_eq!(request.problem, None);
    let message = request.message.expect("message");
    assert_eq!(
        message.subject,
        "Access request from Northwind Digital for your Wix site delta-plumbing"
    );
    assert!(message.body.starts_with("Hello Sam Delta,"));
}

#[test]
fn ledgers_without_requests_still_load_and_requests_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("shop.yaml"),
        "version: 1\nsite: shop\nsite_id: site-shop\ngranted: [acct-1]\n",
    )
    .expect("write");
    let l = ledger::load(dir.path(), "shop", "site-shop", &ledger::Auth::Off)
        .expect("old ledger loads");
    assert!(l.requests.is_empty() && l.granted_by_owner.is_empty());
    let text = ledger::to_yaml(&l, &ledger::Auth::Off).expect("yaml");
    assert!(
        !text.contains("requests"),
        "empty lists are not written: {text}"
    );
}

#[test]
fn a_saved_plan_sends_the_message_it_shows_and_goes_stale_once_sent() {
    let mut h = harness(&webhook_config());
    let (hook, url) = Hook::start(&h);
    h.env.push(("TEST_HOOK_URL".into(), url));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));
    let saved = h.dir.path().join("plan.json");
    let saved = saved.to_str().expect("utf-8 path");
    let out = h
        .cmd(&["plan", "--out", saved])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Plan =
        serde_json::from_str(&std::fs::read_to_string(saved).expect("saved")).expect("plan");
    let text = shop(&plan)
        .request
        .as_ref()
        .and_then(|r| r.message.clone())
        .expect("message")
        .body;

    let out = h
        .cmd(&["apply", saved])
        .env("ACCESSCTL_NOW", at(0, 1))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let posts = hook.posts();
    assert_eq!(posts.len(), 1);
    let json: Value = serde_json::from_slice(&posts[0].body).expect("JSON");
    assert_eq!(json["text"], text.as_str());

    // The ledger moved: the same saved plan is refused, nothing sent twice.
    let out = h
        .cmd(&["apply", saved])
        .env("ACCESSCTL_NOW", at(0, 2))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(hook.posts().len(), 1);
}

// ---------------------------------------------------------------------------
// The engine alone: states against the clock, without the binary.

fn engine_plan(config_text: &str, ledger: &SiteLedger, now: &str) -> SitePlan {
    let loaded = accessctl::config::load_str(Path::new("access.yaml"), config_text.as_bytes())
        .unwrap_or_else(|r| panic!("{}", r.render()));
    let config = loaded.config;
    let site = &config.sites["shop"];
    let now = time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
        .expect("now");
    accessctl::plan::plan_site(
        &config,
        site,
        &accessctl::plan::Observation::RequestMode,
        ledger,
        now,
    )
}

fn sent_ledger(to: &str, grants: &[(&str, &[&str])]) -> SiteLedger {
    let mut l = SiteLedger::new("shop", "site-shop");
    l.requests.push(ledger::RequestRecord {
        sent_at: time::OffsetDateTime::parse(T0, &time::format_description::well_known::Rfc3339)
            .expect("t0"),
        channel: accessctl::model::requests::Channel::Webhook,
        to: to.to_string(),
        grants: grants
            .iter()
            .map(|(email, roles)| ledger::RequestedGrant {
                email: email.to_string(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            })
            .collect(),
        changes: Vec::new(),
        removals: Vec::new(),
        digest: "d".to_string(),
        message_id: None,
        reminders: Vec::new(),
        state: RequestState::Open,
    });
    l
}

#[test]
fn engine_follows_the_clock_and_the_config() {
    let both: &[(&str, &[&str])] = &[
        ("alice@agency.example", &["Blog Editor", "Website Manager"]),
        ("bob@agency.example", &["marketing-manager"]),
    ];
    let l = sent_ledger("jane@shop.example", both);
    let status = |text: &str, l: &SiteLedger, now: &str| {
        let p = engine_plan(text, l, now);
        (p.request.map(|r| r.status), p.changes.len())
    };
    let text = webhook_config();
    // Slugs match titles; the reminder is due exactly at the interval.
    assert_eq!(
        status(&text, &l, &at(2, 23)),
        (Some(RequestStatus::Sent), 0)
    );
    assert_eq!(
        status(&text, &l, &at(3, 0)),
        (Some(RequestStatus::Reminder), 2)
    );
    // No reminders at all: stalled after the first interval.
    let none = text.replace(
        "secret_env: TEST_HOOK_SECRET }",
        "secret_env: TEST_HOOK_SECRET }\n    max_reminders: 0",
    );
    assert_eq!(
        status(&none, &l, &at(3, 0)),
        (Some(RequestStatus::Stalled), 0)
    );
    // Another recipient: a new request replaces the open one.
    let moved = text.replace("jane@shop.example", "sam@shop.example");
    let p = engine_plan(&moved, &l, &at(1, 0));
    assert_eq!(
        p.request.as_ref().map(|r| r.status),
        Some(RequestStatus::New)
    );
    assert!(
        p.changes[0]
            .reason
            .starts_with("the recipient changed since the request sent to jane@shop.example"),
        "{}",
        p.changes[0].reason
    );
    // Fewer grants than were asked for: still covered, no new request.
    let only_alice: &[(&str, &[&str])] = &[both[0]];
    let l_alice = sent_ledger("jane@shop.example", only_alice);
    let p = engine_plan(&text, &l_alice, &at(1, 0));
    assert_eq!(
        p.request.as_ref().map(|r| r.status),
        Some(RequestStatus::New)
    );
    assert!(p.changes[0].reason.starts_with("the config asks for more"));
    // The same inputs give the same plan, and the fingerprint follows the ledger.
    let a = engine_plan(&text, &l, &at(1, 0));
    let b = engine_plan(&text, &l, &at(1, 0));
    assert_eq!(a, b);
    assert_ne!(
        a.fingerprint,
        engine_plan(&text, &l_alice, &at(1, 0)).fingerprint
    );
}

#[test]
fn markdown_plan_shows_the_request_and_its_message() {
    let h = harness(&webhook_config());
    let out = h
        .cmd(&["plan", "--format", "markdown"])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(
        md.contains("**Request:** access request \\(new\\): apply sends it to Jane Shop &lt;jane@shop.example&gt; by webhook"),
        "{md}"
    );
    assert!(
        md.contains("```text\nSubject: Access request from Test Agency for your Wix site shop\n"),
        "{md}"
    );
}

#[test]
fn request_commands_need_a_request_mode_site() {
    let h = harness(&webhook_config().replace(
        "account_id: acc-1 }",
        "account_id: acc-1, api_key_env: SHOP_KEY }",
    ));
    let out = h.cmd(&["request", "done", "shop"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("site `shop` has an API key, so it is not in request mode"),
        "{}",
        stderr(&out)
    );
    let out = h
        .cmd(&["request", "resend", "shoop"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean `shop`?"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------
// Removals and role changes: access the owner gave that the config no longer
// gives (a person removed, an `until` passed) or gives differently.

/// `email_config` without bob's grant.
fn without_bob(port: u16) -> String {
    email_config(port).replace("      - person: bob\n        role: Marketing Manager\n", "")
}

fn who_json(h: &Harness, who: &str, now: &str) -> Value {
    let out = h
        .cmd(&["who", who, "--format", "json"])
        .env("ACCESSCTL_NOW", now)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("who JSON")
}

fn report_out(h: &Harness, format: &str, now: &str) -> String {
    let out = h
        .cmd(&["report", "--format", format])
        .env("ACCESSCTL_NOW", now)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The `(site, principal, state)` of every report row for `email`.
fn report_states(h: &Harness, email: &str, now: &str) -> Vec<(String, String)> {
    let report: Value = serde_json::from_str(&report_out(h, "json", now)).expect("report JSON");
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["email"] == email)
        .map(|r| {
            (
                r["state"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The email site after its first request went out (day 0) and the owner
/// was confirmed to have granted it (day 1): alice and bob hold their roles.
fn granted_by_the_owner() -> (Harness, Smtp, u16) {
    let h = harness(&config(
        "    agency: x\n    webhook: { url_env: X, secret_env: Y }",
    ));
    let (smtp, port) = Smtp::start(&h);
    h.write_config(&email_config(port));
    assert!(apply_at(&h, T0).status.success());
    let out = h
        .cmd(&["request", "done", "shop"])
        .env("ACCESSCTL_NOW", at(1, 0))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    (h, smtp, port)
}

#[test]
fn a_person_removed_from_the_config_is_asked_to_be_removed_until_confirmed() {
    let (h, smtp, port) = granted_by_the_owner();

    // Offboarding bob shows the removal the owner will be asked for, and
    // that the offboarding is not complete until they confirm it.
    let out = h
        .cmd(&["offboard", "bob", "--format", "json"])
        .env("ACCESSCTL_NOW", at(1, 0))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let offboarding: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(offboarding["revokes"][0]["site"], "shop");
    assert_eq!(offboarding["revokes"][0]["action"], "request-removal");
    assert_eq!(offboarding["revokes"][0]["before"], "Marketing Manager");
    assert_eq!(
        offboarding["awaiting_owners"],
        serde_json::json!([{
            "site": "shop",
            "platform": "wix",
            "note": "apply asks the owner to remove them; not complete until `accessctl request done shop --email bob@agency.example` records that they did"
        }])
    );

    // bob leaves the site's access list: the owner is asked to remove him.
    h.write_config(&without_bob(port));
    let day2 = at(2, 0);
    let plan = plan_at(&h, &day2);
    let site = shop(&plan);
    assert_eq!(
        site.changes
            .iter()
            .map(|c| (c.action, c.who.as_str()))
            .collect::<Vec<_>>(),
        [(Action::RequestRemoval, "bob")]
    );
    assert_eq!(
        site.changes[0].reason,
        "the config no longer gives this access: the owner is asked to remove the access they gave"
    );
    let request = site.request.clone().expect("a removal request");
    assert_eq!(request.status, RequestStatus::New);
    assert!(request.grants.is_empty() && request.changes.is_empty());
    assert_eq!(
        request
            .removals
            .iter()
            .map(|r| (r.email.as_str(), r.roles.join(",")))
            .collect::<Vec<_>>(),
        [("bob@agency.example", "Marketing Manager".to_string())]
    );
    assert!(
        site.before
            .lines()
            .any(|l| l == "bob@agency.example (granted by the owner): Marketing Manager")
    );
    assert!(
        site.after
            .lines()
            .any(|l| l == "bob@agency.example (removal requested): Marketing Manager"),
        "{:?}",
        site.after
    );
    let planned = request.message.expect("the message apply sends");
    assert_eq!(
        planned.subject,
        "Access changes from Test Agency for your Wix site shop"
    );
    for expected in [
        "Please remove from the site:\n\n- bob@agency.example (now: Marketing Manager)",
        "1. Open your site's dashboard: https://manage.wix.com/dashboard/site-shop",
        "2. Go to Settings → Roles & Permissions.",
        "3. Find bob@agency.example in the list of collaborators, click the \"⋯\" (More Actions)\n   button on that row, choose \"Remove\", and confirm.",
    ] {
        assert!(
            planned.body.contains(expected),
            "missing {expected:?} in:\n{}",
            planned.body
        );
    }
    assert!(!planned.body.contains("Invite People"), "{}", planned.body);
    assert!(!planned.body.contains("alice@"), "{}", planned.body);

    // The text plan names it as a removal request, apart from grants.
    let out = h
        .cmd(&["plan"])
        .env("ACCESSCTL_NOW", &day2)
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(
        text.contains("? request-removal bob (bob@agency.example): Marketing Manager"),
        "{text}"
    );
    assert!(
        text.contains(
            "access change request (new): apply sends it to Jane Shop <jane@shop.example> by email"
        ),
        "{text}"
    );
    assert!(text.contains("1 to ask to remove"), "{text}");

    // apply sends exactly that, and the ledger records it as open.
    let out = apply_at(&h, &day2);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("access change request sent to jane@shop.example by email"),
        "{}",
        stdout(&out)
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some(planned.subject.as_str())
    );
    assert_eq!(mails[1].body(), planned.body);
    let l = ledger_of(&h);
    let open = l.open_request().expect("an open request");
    assert_eq!(open.digest, planned.digest);
    assert!(open.grants.is_empty());
    assert_eq!(
        open.removal_of("bob@agency.example")
            .map(|r| r.roles.clone()),
        Some(vec!["Marketing Manager".to_string()])
    );
    assert_eq!(l.requests[0].state, RequestState::Done);

    // Planned again: pending, nothing to send; a second apply sends nothing.
    let day3 = at(3, 0);
    let plan = plan_at(&h, &day3);
    let site = shop(&plan);
    assert!(site.changes.is_empty(), "{:?}", site.changes);
    let request = site.request.clone().expect("pending");
    assert_eq!(request.status, RequestStatus::Sent);
    assert_eq!(request.removals.len(), 1);
    assert!(apply_at(&h, &day3).status.success());
    assert_eq!(smtp.mails().len(), 2, "no duplicate");

    // who and report show the access as removal requested.
    let who = who_json(&h, "bob@agency.example", &day3);
    let states: Vec<&str> = who["access"]
        .as_array()
        .expect("access")
        .iter()
        .map(|e| e["state"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(states, ["removal-requested"], "{who}");
    assert_eq!(
        report_states(&h, "bob@agency.example", &day3),
        [("removal-requested".to_string(), "unmanaged".to_string())]
    );
    let markdown = report_out(&h, "markdown", &day3);
    assert!(
        markdown.contains("**1 removal asked of site owners and not confirmed yet**"),
        "{markdown}"
    );
    // Offboarding bob is not complete while the owner has not removed him.
    let offboard = |now: &str| {
        let out = h
            .cmd(&["offboard", "bob"])
            .env("ACCESSCTL_NOW", now)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let text = offboard(&day3);
    assert!(
        text.contains("Offboarding is not complete: site owners must remove the access by hand (request mode):\n  shop: the owner was asked on 2026-10-03 (sent) to remove them; not complete until `accessctl request done shop --email bob@agency.example` records that they did"),
        "{text}"
    );

    // The interval passes: a reminder of the same request.
    let day5 = at(5, 0);
    let plan = plan_at(&h, &day5);
    let site = shop(&plan);
    assert_eq!(
        site.request.as_ref().map(|r| r.status),
        Some(RequestStatus::Reminder)
    );
    assert_eq!(
        site.changes.iter().map(|c| c.action).collect::<Vec<_>>(),
        [Action::RequestRemoval]
    );
    assert!(apply_at(&h, &day5).status.success());
    let mails = smtp.mails();
    assert_eq!(mails.len(), 3);
    assert_eq!(
        mails[2].header("Subject").as_deref(),
        Some("Reminder: Access changes from Test Agency for your Wix site shop")
    );
    assert_eq!(
        mails[2].header("In-Reply-To"),
        mails[1].header("Message-ID")
    );
    // After the last reminder's interval: stalled, and the warning says so.
    let plan = plan_at(&h, &at(8, 1));
    let site = shop(&plan);
    assert_eq!(
        site.request.as_ref().map(|r| r.status),
        Some(RequestStatus::Stalled)
    );
    assert!(
        site.warnings.iter().any(|w| w.starts_with(
            "the access change request sent to jane@shop.example on 2026-10-03 is stalled"
        )),
        "{:?}",
        site.warnings
    );

    // The owner confirms: the access leaves the ledger and every listing.
    let out = h
        .cmd(&["request", "done", "shop", "--email", "bob@agency.example"])
        .env("ACCESSCTL_NOW", at(9, 0))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "marked bob@agency.example (Marketing Manager) as removed by the owner on site `shop`"
        ),
        "{}",
        stderr(&out)
    );
    let l = ledger_of(&h);
    assert!(
        l.granted_by_owner
            .iter()
            .all(|g| g.email != "bob@agency.example")
    );
    assert!(l.open_request().is_none());
    assert_eq!(l.requests[1].state, RequestState::Done);
    let plan = plan_at(&h, &at(10, 0));
    let site = shop(&plan);
    assert_eq!(site.request, None);
    assert!(site.changes.is_empty());
    assert!(
        !site.after.lines().any(|l| l.contains("bob@")),
        "{:?}",
        site.after
    );
    let who = who_json(&h, "bob@agency.example", &at(10, 0));
    assert_eq!(who["access"], serde_json::json!([]), "{who}");
    assert!(report_states(&h, "bob@agency.example", &at(10, 0)).is_empty());
    assert!(!report_out(&h, "markdown", &at(10, 0)).contains("not confirmed yet"));
    assert!(!offboard(&at(10, 0)).contains("not complete"));
}

#[test]
fn a_role_change_goes_to_the_webhook_with_its_roles_before_and_after() {
    let mut h = harness(&webhook_config());
    let (hook, url) = Hook::start(&h);
    h.env.push(("TEST_HOOK_URL".into(), url));
    h.env.push(("TEST_HOOK_SECRET".into(), SECRET.into()));
    assert!(apply_at(&h, T0).status.success());
    assert!(
        h.cmd(&["request", "done", "shop"])
            .output()
            .expect("runs")
            .status
            .success()
    );
    // alice's roles are lowered.
    h.write_config(
        &webhook_config().replace("roles: [Website Manager, Blog Editor]", "role: Blog Editor"),
    );
    let plan = plan_at(&h, &at(1, 0));
    let site = shop(&plan);
    assert_eq!(
        site.changes
            .iter()
            .map(|c| (c.action, c.who.as_str()))
            .collect::<Vec<_>>(),
        [(Action::RequestChange, "alice")]
    );
    let change = &site.changes[0];
    assert_eq!(
        change
            .roles_before
            .iter()
            .map(|r| r.title.as_str())
            .collect::<Vec<_>>(),
        ["Blog Editor", "Website Manager"]
    );
    assert_eq!(
        change
            .roles_after
            .iter()
            .map(|r| r.title.as_str())
            .collect::<Vec<_>>(),
        ["Blog Editor"]
    );
    let body = site
        .request
        .clone()
        .and_then(|r| r.message)
        .expect("message")
        .body;
    assert!(
        body.contains(
            "- alice@agency.example: from Blog Editor and Website Manager to Blog Editor"
        ),
        "{body}"
    );
    assert!(
        body.contains("choose \"Change Role\". Select the role Blog Editor,\n   clear every other role, and click \"Save\"."),
        "{body}"
    );

    let out = apply_at(&h, &at(1, 0));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let posts = hook.posts();
    assert_eq!(posts.len(), 2);
    let payload: Value = serde_json::from_slice(&posts[1].body).expect("JSON");
    assert_eq!(payload["grants"], serde_json::json!([]));
    assert_eq!(
        payload["changes"],
        serde_json::json!([{
            "who": "alice",
            "email": "alice@agency.example",
            "from": ["Blog Editor", "Website Manager"],
            "roles": ["Blog Editor"]
        }])
    );
    assert_eq!(payload["text"], body);
    assert_eq!(
        posts[1].headers.get("x-accessctl-signature"),
        Some(&format!("sha256={}", hmac_hex(SECRET, &posts[1].body)))
    );
    // Pending: who shows the change asked for; done records the new roles.
    let who = who_json(&h, "alice", &at(2, 0));
    assert_eq!(who["access"][0]["state"], "change-requested", "{who}");
    assert!(
        h.cmd(&["request", "done", "shop"])
            .output()
            .expect("runs")
            .status
            .success()
    );
    let l = ledger_of(&h);
    let alice = l
        .granted_by_owner
        .iter()
        .find(|g| g.email == "alice@agency.example")
        .expect("alice");
    assert_eq!(alice.roles, ["Blog Editor"]);
    let plan = plan_at(&h, &at(2, 0));
    assert_eq!(shop(&plan).request, None);
}

#[test]
fn an_until_that_passes_asks_the_owner_to_remove_the_access() {
    let config_text = webhook_config().replace(
        "        role: Marketing Manager\n",
        "        role: Marketing Manager\n        until: 2026-10-05\n",
    );
    let mut l = SiteLedger::new("shop", "site-shop");
    for (email, roles) in [
        (
            "alice@agency.example",
            vec!["Blog Editor", "Website Manager"],
        ),
        ("bob@agency.example", vec!["Marketing Manager"]),
    ] {
        l.granted_by_owner.push(ledger::OwnerGrant {
            email: email.to_string(),
            roles: roles.into_iter().map(String::from).collect(),
            marked_at: time::OffsetDateTime::parse(
                T0,
                &time::format_description::well_known::Rfc3339,
            )
            .expect("t0"),
        });
    }
    // The owner's own access, whatever the ledger says, is never asked back.
    l.granted_by_owner.push(ledger::OwnerGrant {
        email: "jane@shop.example".to_string(),
        roles: vec!["Admin".to_string()],
        marked_at: time::OffsetDateTime::parse(T0, &time::format_description::well_known::Rfc3339)
            .expect("t0"),
    });
    // The last day of access: nothing to ask.
    let site = engine_plan(&config_text, &l, "2026-10-05T23:00:00Z");
    assert_eq!(site.request, None);
    assert!(site.changes.is_empty());
    // The day after: the owner is asked to remove bob, and why.
    let site = engine_plan(&config_text, &l, "2026-10-06T00:00:00Z");
    assert_eq!(
        site.changes
            .iter()
            .map(|c| (c.action, c.who.as_str(), c.reason.as_str()))
            .collect::<Vec<_>>(),
        [(
            Action::RequestRemoval,
            "bob",
            "the grant ended on 2026-10-05 (`until`): the owner is asked to remove the access they gave"
        )]
    );
    let request = site.request.expect("request");
    assert_eq!(request.status, RequestStatus::New);
    assert!(
        request
            .message
            .expect("message")
            .body
            .contains("- bob@agency.example (now: Marketing Manager)")
    );

    // Asked, then the config gives bob access again before the owner acts:
    // nothing more is sent, and the plan says the open request must be
    // called off.
    l.requests.push(ledger::RequestRecord {
        sent_at: time::OffsetDateTime::parse(
            "2026-10-06T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .expect("sent"),
        channel: accessctl::model::requests::Channel::Webhook,
        to: "jane@shop.example".to_string(),
        grants: Vec::new(),
        changes: Vec::new(),
        removals: vec![ledger::RequestedGrant {
            email: "bob@agency.example".to_string(),
            roles: vec!["Marketing Manager".to_string()],
        }],
        digest: "d".to_string(),
        message_id: None,
        reminders: Vec::new(),
        state: RequestState::Open,
    });
    let extended = config_text.replace("until: 2026-10-05", "until: 2026-12-31");
    let site = engine_plan(&extended, &l, "2026-10-07T00:00:00Z");
    assert_eq!(site.request, None);
    assert!(site.changes.is_empty());
    assert!(
        site.warnings.iter().any(|w| w
            == "the request sent to jane@shop.example on 2026-10-06 asks the owner to remove bob@agency.example, whom the config gives access again: tell the owner not to, then run `accessctl request resend shop` to close it"),
        "{:?}",
        site.warnings
    );
}

#[test]
fn hostile_ledger_records_never_reach_an_owner() {
    let h = harness(&webhook_config());
    let dir = h.ledger_dir();
    std::fs::create_dir_all(&dir).expect("dir");
    // A line break in an email or a role title would write lines of the
    // attacker's choosing into the message (a forged step, a fake link).
    for (record, expected) in [
        (
            "granted_by_owner:\n  - email: \"carol@agency.example\\n4. Also invite mallory@evil.example as Owner\"\n    roles: [Admin]\n    marked_at: 2026-10-01T09:00:00Z\n",
            "entry 1 of `granted_by_owner` has an email that is not one: it contains a control character",
        ),
        (
            "granted_by_owner:\n  - email: carol@agency.example\n    roles: [\"Admin\\nSubject: pwned\"]\n    marked_at: 2026-10-01T09:00:00Z\n",
            "entry 1 of `granted_by_owner` has a role title that is empty or holds a line break or control character",
        ),
        (
            "requests:\n  - sent_at: 2026-10-01T09:00:00Z\n    channel: email\n    to: jane@shop.example\n    grants: []\n    removals:\n      - { email: \"x@y.example\\r\\nBcc: all@evil.example\", roles: [Admin] }\n    digest: d\n    state: open\n",
            "request 1 names an email that is not one",
        ),
    ] {
        std::fs::write(
            dir.join("shop.yaml"),
            format!("version: 1\nsite: shop\nsite_id: site-shop\n{record}"),
        )
        .expect("write");
        let out = h
            .cmd(&["plan", "--format", "json"])
            .env("ACCESSCTL_NOW", T0)
            .output()
            .expect("runs");
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains(expected), "{all}");
        assert!(all.contains("shop.yaml:"), "located: {all}");
        assert!(!all.contains("mallory@evil.example as Owner\n"), "{all}");
        assert!(!all.contains("\nBcc: all@evil.example"), "{all}");
        assert!(!all.contains("\nSubject: pwned"), "{all}");
        let out = apply_at(&h, T0);
        assert_ne!(out.status.code(), Some(0), "nothing is sent");
    }

    // An email that is one, but written as Markdown and HTML: sent as plain
    // text, shown escaped in the Markdown plan.
    std::fs::write(
        dir.join("shop.yaml"),
        "version: 1\nsite: shop\nsite_id: site-shop\ngranted_by_owner:\n  - email: \"[click](https://evil.example)<img/src=x>@agency.example\"\n    roles: [\"**Admin**\"]\n    marked_at: 2026-10-01T09:00:00Z\n",
    )
    .expect("write");
    let plan = plan_at(&h, T0);
    let site = shop(&plan);
    let removal = site
        .changes
        .iter()
        .find(|c| c.action == Action::RequestRemoval)
        .expect("asked to remove");
    assert_eq!(
        removal.email.as_deref(),
        Some("[click](https://evil.example)<img/src=x>@agency.example")
    );
    let out = h
        .cmd(&["plan", "--format", "markdown"])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    let markdown = stdout(&out);
    assert!(markdown.contains("? request-removal [click]"), "{markdown}");
    // The hostile text is shown only inside code blocks, where GitHub
    // renders no link, image or emphasis.
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            for markup in ["](https://evil.example)", "<img", "**Admin**"] {
                assert!(
                    !line.contains(markup),
                    "{markup} outside a code block: {line}"
                );
            }
        }
    }
    assert!(!fenced, "every code block is closed");
}

#[test]
fn a_protected_person_is_not_asked_back_without_the_override() {
    let h = harness(&webhook_config());
    let dir = h.ledger_dir();
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("shop.yaml"),
        "version: 1\nsite: shop\nsite_id: site-shop\ngranted_by_owner:\n  - { email: alice@agency.example, roles: [Blog Editor, Website Manager], marked_at: 2026-10-01T09:00:00Z }\n  - { email: bob@agency.example, roles: [Marketing Manager], marked_at: 2026-10-01T09:00:00Z }\n",
    )
    .expect("write");
    h.write_config(
        &webhook_config()
            .replace("      - person: bob\n        role: Marketing Manager\n", "")
            .replace("requests:\n", "safety:\n  protect: [bob]\nrequests:\n"),
    );
    let out = h
        .cmd(&["plan", "--format", "json"])
        .env("ACCESSCTL_NOW", T0)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "refused: {}", stderr(&out));
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(
        shop(&plan)
            .changes
            .iter()
            .map(|c| c.action)
            .collect::<Vec<_>>(),
        [Action::RequestRemoval]
    );
    assert_eq!(
        plan.refusals,
        [
            "site `shop`: would ask the owner to remove `bob`, who is protected (`safety.protect`); pass --allow-protected-changes to apply anyway"
        ]
    );
    let out = apply_at(&h, T0);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn plans_show_grants_role_changes_and_removals_apart() {
    let h = harness(&webhook_config());
    let dir = h.ledger_dir();
    std::fs::create_dir_all(&dir).expect("dir");
    // alice was given one role of two; carol left the config; bob is new.
    std::fs::write(
        dir.join("shop.yaml"),
        "version: 1\nsite: shop\nsite_id: site-shop\ngranted_by_owner:\n  - { email: alice@agency.example, roles: [Blog Editor], marked_at: 2026-10-01T09:00:00Z }\n  - { email: carol@agency.example, roles: [Website Manager], marked_at: 2026-10-01T09:00:00Z }\n",
    )
    .expect("write");
    let run = |format: &str| {
        let out = h
            .cmd(&["plan", "--format", format])
            .env("ACCESSCTL_NOW", at(1, 0))
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let plan: Plan = serde_json::from_str(&run("json")).expect("plan JSON");
    assert_eq!(
        shop(&plan)
            .changes
            .iter()
            .map(|c| (c.action.name(), c.who.as_str()))
            .collect::<Vec<_>>(),
        [
            ("request", "bob"),
            ("request-change", "alice"),
            ("request-removal", "carol@agency.example")
        ]
    );
    insta::assert_snapshot!("request_changes_plan_text", run("text"));
    insta::assert_snapshot!("request_changes_plan_markdown", run("markdown"));
}

/// The removal caps count what a request-mode site's owner is asked to
/// remove: a config change that drops everyone from a site without a key
/// is refused like one that removes them itself.
#[test]
fn asking_an_owner_to_remove_more_than_the_cap_is_refused() {
    let (h, _smtp, port) = granted_by_the_owner();

    // Both people leave the site's list; the cap allows one removal.
    let capped = email_config(port)
        .replace(
            "      - person: alice\n        roles: [Website Manager, Blog Editor]\n",
            "",
        )
        .replace("      - person: bob\n        role: Marketing Manager\n", "")
        .replace("    access:\n", "    access: []\n")
        + "safety:\n  max_removals_per_site: 1\n";
    assert!(!capped.contains("person: "), "{capped}");
    h.write_config(&capped);
    let day2 = at(2, 0);
    let out = h
        .cmd(&["plan", "--format", "json"])
        .env("ACCESSCTL_NOW", &day2)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let asked: Vec<Action> = shop(&plan).changes.iter().map(|c| c.action).collect();
    assert_eq!(asked, [Action::RequestRemoval, Action::RequestRemoval]);
    assert_eq!(
        plan.refusals,
        [
            "site `shop`: 2 removals (asked of the owner), more than `safety.max_removals_per_site` (1); pass --allow-removals to apply anyway"
        ]
    );

    // apply refuses before asking anyone; with the flag it asks.
    let out = h
        .cmd(&["apply", "--auto-approve"])
        .env("ACCESSCTL_NOW", &day2)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        ledger_of(&h).requests.iter().all(|r| r.removals.is_empty()),
        "a refused apply asked for removals: {:?}",
        ledger_of(&h).requests
    );
    let out = h
        .cmd(&["apply", "--auto-approve", "--allow-removals"])
        .env("ACCESSCTL_NOW", &day2)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let asked: Vec<String> = ledger_of(&h)
        .requests
        .iter()
        .flat_map(|r| r.removals.iter().map(|g| g.email.clone()))
        .collect();
    assert_eq!(asked, ["alice@agency.example", "bob@agency.example"]);
}

/// What the ledger says the owner granted is hostile input: the same person
/// listed twice, or in another case than the config writes them, is still
/// one person holding what the config gives — nothing is asked for and
/// nothing asked back.
#[test]
fn owner_confirmed_access_listed_twice_or_in_another_case_is_one_grant() {
    let marked = time::OffsetDateTime::parse(T0, &time::format_description::well_known::Rfc3339)
        .expect("t0");
    let mut l = SiteLedger::new("shop", "site-shop");
    for (email, roles) in [
        (
            "alice@agency.example",
            vec!["Blog Editor", "Website Manager"],
        ),
        ("alice@agency.example", vec!["Blog Editor"]),
        ("BOB@Agency.example", vec!["marketing manager"]),
    ] {
        l.granted_by_owner.push(ledger::OwnerGrant {
            email: email.to_string(),
            roles: roles.into_iter().map(String::from).collect(),
            marked_at: marked,
        });
    }
    let site = engine_plan(&webhook_config(), &l, "2026-10-02T09:00:00Z");
    assert!(site.changes.is_empty(), "{:?}", site.changes);
    assert_eq!(site.request, None);
    assert!(site.warnings.is_empty(), "{:?}", site.warnings);
    // Dropped from the config, each of alice's confirmed grants is asked back.
    let without_alice = webhook_config().replace("alice", "carol");
    let site = engine_plan(&without_alice, &l, "2026-10-02T09:00:00Z");
    let asked: Vec<(Action, &str)> = site
        .changes
        .iter()
        .map(|c| (c.action, c.email.as_deref().unwrap_or_default()))
        .collect();
    assert!(
        asked.contains(&(Action::RequestRemoval, "alice@agency.example")),
        "{asked:?}"
    );
}

//! The Wix emulator: a local HTTP server with the same paths, methods,
//! headers, JSON and *gaps* as the Wix REST endpoints accessctl uses
//! (see `wix-api.md`), backed by in-memory state seeded from YAML. It lets a
//! newcomer try the tool without a Wix account and lets tests exercise the
//! real HTTP client over loopback.
//!
//! Layout: `seed` (YAML format and validation), `state` (the world and its
//! rules), `wire` (the emulator's own JSON types, not shared with the
//! client), `api` (Wix endpoints), `control` (`/_emulator/…` test
//! controls), `log` (request log middleware, which also applies faults),
//! `quirks` (readings of the API details Wix leaves open),
//! `faults` (fault rules and the rate limiter), `conn` (connections a
//! "drop" fault can cut), `error`.
//!
//! Like Wix, there is deliberately no endpoint that lists invites or maps
//! an email to an account id (the test control `GET /_emulator/invites`
//! lists them for tests to check Wix's side; it is not part of Wix).

mod api;
mod conn;
mod control;
mod error;
mod faults;
pub mod google;
mod log;
pub mod quirks;
pub mod seed;
mod state;
mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::EmulatorError;
pub use faults::{DropPoint, FaultConfig, FaultRule, LimitScope, RateLimit};
pub use seed::{DuplicateInvites, RemoveMethod, Seed};

use self::conn::{ConnHandle, CuttableListener};
use self::faults::Faults;
use self::log::RequestLog;
use self::state::State;

/// Paths of the emulated Wix endpoints (axum syntax for the invite id).
mod paths {
    pub const ROLES: &str = "/roles-management/roles";
    pub const QUERY_CONTRIBUTORS: &str = "/roles-management/v2/contributors/query";
    pub const BULK_INVITE: &str = "/invites/site-invite/bulk";
    pub const RESEND_INVITE: &str = "/invites/site-invite/{invite_id}/resend";
    pub const REVOKE_INVITE: &str = "/invites/site-invite/{invite_id}/revoke";
    pub const CHANGE_ROLE: &str = "/roles-management/contributor/change/role";
    pub const REMOVE_CONTRIBUTOR: &str = "/roles-management/contributor/remove";
}

/// What every handler shares. All locks are `std` mutexes held only for
/// synchronous work, never across an `.await`.
pub(crate) struct Shared {
    state: Mutex<State>,
    log: Mutex<RequestLog>,
    faults: Mutex<Faults>,
    /// Google's side: tokens, GA4 and GTM (`google/`).
    google: Mutex<google::State>,
    /// The run's readings of unconfirmed API details; never change.
    quirks: quirks::Quirks,
}

impl Shared {
    /// Lock the state. Nothing here walks every site: invite expiry is
    /// swept lazily, per site, by the operations that look at a site's
    /// invites (`State::site_now`), so a request costs the same at 10 or
    /// 10,000 sites. A poisoned lock (a panicking handler) still yields the
    /// data: the emulator is a test tool and should keep answering.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn google(&self) -> MutexGuard<'_, google::State> {
        self.google.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Read and validate a seed file; errors name the file.
pub fn load_seed(path: &std::path::Path) -> Result<Seed, EmulatorError> {
    let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::ReadSeed {
        path: path.to_path_buf(),
        source,
    })?;
    parse_seed(&text).map_err(|e| e.with_path(path))
}

/// Parse and validate seed YAML.
pub fn parse_seed(text: &str) -> Result<Seed, EmulatorError> {
    seed::parse(text)
}

/// The emulator as an axum router (validates the seed, faults included).
/// "Drop" faults cut the connection cleanly only when served by [`spawn`]
/// or [`serve`] (their own listener); under another server the client gets
/// a status line and then a truncated body instead (see `conn.rs`).
pub fn router(seed: Seed) -> Result<Router, EmulatorError> {
    let state = seed::build_state(&seed)?;
    let faults = Faults::new(seed.faults.clone().unwrap_or_default()).map_err(|problems| {
        EmulatorError::InvalidSeed {
            path: None,
            problems: problems
                .into_iter()
                .map(|(field, description)| format!("faults.{field}: {description}"))
                .collect(),
        }
    })?;
    let google = google::build(&seed.google).map_err(|problems| EmulatorError::InvalidSeed {
        path: None,
        problems: problems
            .into_iter()
            .map(|p| format!("google.{p}"))
            .collect(),
    })?;
    let shared = Arc::new(Shared {
        google: Mutex::new(google),
        state: Mutex::new(state),
        log: Mutex::new(RequestLog::default()),
        faults: Mutex::new(faults),
        quirks: seed.quirks.clone(),
    });
    Ok(build_router(shared, seed.remove_method))
}

fn build_router(shared: Arc<Shared>, remove_method: RemoveMethod) -> Router {
    // Remove Contributor answers only the seeded method; the other gets a
    // 405 so a client's POST→DELETE (or reverse) fallback is exercised.
    let remove: MethodRouter<Arc<Shared>> = match remove_method {
        RemoveMethod::Post => post(api::remove_contributor)
            .delete(|| async { error::ApiError::method_not_allowed(Some("POST")) }),
        RemoveMethod::Delete => delete(api::remove_contributor)
            .post(|| async { error::ApiError::method_not_allowed(Some("DELETE")) }),
    };
    let change_role: MethodRouter<Arc<Shared>> = match shared.quirks.change_role_method {
        quirks::ChangeRoleMethod::Put => put(api::change_role)
            .patch(|| async { error::ApiError::method_not_allowed(Some("PUT")) }),
        quirks::ChangeRoleMethod::Patch => patch(api::change_role)
            .put(|| async { error::ApiError::method_not_allowed(Some("PATCH")) }),
    };
    let wix = Router::new()
        .route(paths::ROLES, get(api::get_roles_info))
        .route(paths::QUERY_CONTRIBUTORS, get(api::query_contributors))
        .route(paths::BULK_INVITE, post(api::bulk_invite))
        .route(paths::RESEND_INVITE, post(api::resend_invite))
        .route(paths::REVOKE_INVITE, post(api::revoke_invite))
        .route(paths::CHANGE_ROLE, change_role)
        .route(paths::REMOVE_CONTRIBUTOR, remove)
        .merge(google::routes())
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(api::unknown_endpoint)
        // Logging and fault injection (latency, stalls, injected errors,
        // the rate limiter's 429s, dropped connections) are one layer, so
        // every fault is logged, including requests that never got an
        // answer. `log::endpoint_of` names the endpoint rules match on.
        .layer(from_fn_with_state(shared.clone(), log::record));
    // Controls are merged after the layer, so they are neither logged nor
    // subject to faults.
    wix.merge(control::routes())
        .merge(google::controls())
        .with_state(shared)
}

/// An emulator serving in a background task. Dropping it also stops the
/// server (without waiting); `shutdown` waits for the task.
#[derive(Debug)]
pub struct RunningEmulator {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), std::io::Error>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting connections and wait (briefly) for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Idle keep-alive connections could delay a graceful stop; don't let
        // a test hang on them.
        let abort = self.task.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        // Dropping the sender also ends the graceful-shutdown future, so a
        // forgotten emulator does not outlive its owner.
        self.shutdown.take();
    }
}

/// Hands every request its connection's [`ConnHandle`] (for drop faults).
fn make_service(
    app: Router,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, ConnHandle> {
    app.into_make_service_with_connect_info::<ConnHandle>()
}

async fn bind(listen: SocketAddr) -> Result<(CuttableListener, SocketAddr), EmulatorError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    Ok((CuttableListener(listener), addr))
}

/// Bind `listen` (port 0 picks a free port) and serve in a tokio task.
pub async fn spawn(seed: Seed, listen: SocketAddr) -> Result<RunningEmulator, EmulatorError> {
    let app = router(seed)?;
    let (listener, addr) = bind(listen).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, make_service(app))
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningEmulator {
        addr,
        shutdown: Some(tx),
        task,
    })
}

/// Serve in the foreground until Ctrl-C (for the CLI).
pub async fn serve(
    seed: Seed,
    listen: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), EmulatorError> {
    let app = router(seed)?;
    let (listener, addr) = bind(listen).await?;
    eprintln!("wix emulator listening on http://{addr}");
    on_ready(addr);
    axum::serve(listener, make_service(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|source| EmulatorError::Serve { source })
}

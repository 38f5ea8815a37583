//! Running the Wix emulator and the real `accessctl` binary for the network
//! benchmarks.
//!
//! The emulator is the library's own router (the same one `emulator::spawn`
//! serves) with one extra layer that counts the Wix requests in flight, so
//! a benchmark can say what concurrency the client actually used and how
//! full it kept the pipe. It runs on its own tokio runtime in this process;
//! accessctl runs as a separate process, as users run it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accessctl::emulator::Seed;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use serde_json::Value;
use tokio::runtime::Runtime;

/// The accessctl binary Cargo built for this benchmark (release profile).
pub const ACCESSCTL: &str = env!("CARGO_BIN_EXE_accessctl");

/// Wix requests in flight at the emulator, over time.
#[derive(Debug, Default)]
pub struct Gauge(Mutex<GaugeState>);

#[derive(Debug, Default)]
struct GaugeState {
    current: usize,
    peak: usize,
    /// Integral of `current` over time, in request-seconds.
    area: f64,
    last: Option<Instant>,
    first: Option<Instant>,
}

/// What the gauge saw between the first request and now.
#[derive(Debug, Clone, Copy)]
pub struct Concurrency {
    pub peak: usize,
    /// Time-weighted mean of requests in flight while any was.
    pub mean: f64,
}

impl Gauge {
    fn step(&self, delta: isize) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(last) = g.last {
            g.area += g.current as f64 * now.duration_since(last).as_secs_f64();
        }
        g.last = Some(now);
        g.first.get_or_insert(now);
        g.current = g.current.saturating_add_signed(delta);
        g.peak = g.peak.max(g.current);
    }

    pub fn reset(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = GaugeState::default();
    }

    pub fn read(&self) -> Concurrency {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let span = match (g.first, g.last) {
            (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
            _ => 0.0,
        };
        Concurrency {
            peak: g.peak,
            mean: if span > 0.0 { g.area / span } else { 0.0 },
        }
    }
}

/// Leaves the gauge when the request ends, however it ends.
struct InFlight(Arc<Gauge>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.step(-1);
    }
}

async fn count_in_flight(State(gauge): State<Arc<Gauge>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_emulator") {
        return next.run(req).await;
    }
    gauge.step(1);
    let _guard = InFlight(gauge);
    next.run(req).await
}

/// An emulator serving on loopback from its own runtime.
pub struct Emulator {
    pub base: String,
    pub gauge: Arc<Gauge>,
    http: reqwest::Client,
    rt: Runtime,
}

impl Emulator {
    pub fn start(seed: Seed) -> Emulator {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let gauge = Arc::new(Gauge::default());
        let app = accessctl::emulator::router(seed)
            .expect("the generated seed is valid")
            .layer(from_fn_with_state(gauge.clone(), count_in_flight));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        rt.spawn(async move { axum::serve(listener, app).await });
        accessctl::providers::wix::install_crypto_provider();
        Emulator {
            base: format!("http://{addr}"),
            gauge,
            http: reqwest::Client::new(),
            rt,
        }
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_emulator/{path}", self.base);
        self.rt.block_on(async {
            let mut req = self.http.request(method, &url);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let resp = req.send().await.expect("emulator control");
            let status = resp.status();
            let value: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {value}");
            value
        })
    }

    /// Replace the fault configuration (`faults.rs` format).
    pub fn set_faults(&self, faults: Value) {
        self.control(reqwest::Method::PUT, "faults", Some(faults));
    }

    /// Wix as the plan benchmarks see it: `latency_ms` added to every call
    /// and at most `per_minute` requests per minute per `scope` (`site` or
    /// `key`).
    pub fn set_wix(&self, latency_ms: u64, per_minute: u32, scope: &str) {
        self.set_faults(serde_json::json!({
            "rules": [{ "endpoint": "*", "latencyMs": latency_ms }],
            "rateLimit": { "perMinute": per_minute, "scope": scope },
        }));
    }

    pub fn stats(&self) -> Stats {
        let v = self.control(reqwest::Method::GET, "stats", None);
        let count = |name: &str| v["requests"][name].as_u64().unwrap_or(0);
        Stats {
            total: v["total"].as_u64().unwrap_or(0),
            rate_limited: v["rateLimited"].as_u64().unwrap_or(0),
            roles: count("getRolesInfo"),
            queries: count("querySiteContributors"),
            bulk_invite: count("bulkInvite"),
            resend: count("resendInvite"),
            revoke: count("revokeInvite"),
            change_role: count("changeRole"),
            remove: count("removeContributor"),
        }
    }

    /// Every logged Wix request since the last [`Emulator::clear`].
    pub fn log(&self) -> Vec<Value> {
        match self.control(reqwest::Method::GET, "log", None) {
            Value::Array(entries) => entries,
            Value::Object(mut o) => match o.remove("entries") {
                Some(Value::Array(entries)) => entries,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Forget the log, the counters and the gauge.
    pub fn clear(&self) {
        self.control(reqwest::Method::DELETE, "log", None);
        self.control(reqwest::Method::DELETE, "stats", None);
        self.gauge.reset();
    }
}

/// `GET /_emulator/stats`, the parts the benchmarks use.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub total: u64,
    pub rate_limited: u64,
    pub roles: u64,
    pub queries: u64,
    pub bulk_invite: u64,
    pub resend: u64,
    pub revoke: u64,
    pub change_role: u64,
    pub remove: u64,
}

/// One accessctl run.
pub struct Run {
    pub wall: Duration,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `accessctl -c CONFIG ARGS…` against `base`, with the keys in `env`,
/// the clock pinned and no color.
pub fn accessctl(config: &Path, base: &str, env: &[(String, String)], args: &[&str]) -> Run {
    let mut cmd = command(config, base, env, args);
    let start = Instant::now();
    let out = cmd.output().expect("run accessctl");
    let wall = start.elapsed();
    Run {
        wall,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An accessctl process started by [`spawn`], running.
pub struct Running {
    child: std::process::Child,
    start: Instant,
}

/// Start `accessctl -c CONFIG ARGS…` as [`accessctl`] runs it, without
/// waiting: several can run at once (the shards of a CI matrix).
pub fn spawn(config: &Path, base: &str, env: &[(String, String)], args: &[&str]) -> Running {
    let mut cmd = command(config, base, env, args);
    let start = Instant::now();
    let child = cmd.spawn().expect("start accessctl");
    Running { child, start }
}

impl Running {
    /// Wait for the process to end: the run, and its peak resident memory
    /// (`VmHWM` of `/proc/PID/status`, as [`super::peak_rss`] reads this
    /// process's) in bytes. The peak is sampled every millisecond while the
    /// process runs, so it can miss at most what the process grew in its
    /// last millisecond. The wall time is exact (start to exit).
    pub fn wait(self) -> (Run, u64) {
        let Running { child, start } = self;
        let status = format!("/proc/{}/status", child.id());
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let sampler = scope.spawn(|| {
                let mut peak = 0u64;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    peak = peak.max(super::status_kib(&status, "VmHWM:") * 1024);
                    std::thread::sleep(Duration::from_millis(1));
                }
                peak
            });
            let out = child.wait_with_output().expect("wait for accessctl");
            let wall = start.elapsed();
            done.store(true, std::sync::atomic::Ordering::Release);
            let peak = sampler.join().expect("sampler");
            let run = Run {
                wall,
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
            (run, peak)
        })
    }
}

/// The command [`accessctl`] and [`spawn`] run.
fn command(config: &Path, base: &str, env: &[(String, String)], args: &[&str]) -> Command {
    // ACCESSCTL_BENCH_WRAP runs accessctl under another command, e.g.
    // `perf record -g -o /tmp/perf.data` or `valgrind --tool=callgrind`.
    let wrap: Vec<String> = std::env::var("ACCESSCTL_BENCH_WRAP")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut cmd = match wrap.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(ACCESSCTL);
            cmd
        }
        None => Command::new(ACCESSCTL),
    };
    cmd.arg("-c")
        .arg(config)
        .args(args)
        .env("ACCESSCTL_WIX_API_BASE", base)
        .env("ACCESSCTL_NOW", super::NOW)
        .env("NO_COLOR", "1")
        .env_remove("ACCESSCTL_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Extra accessctl arguments from `ACCESSCTL_BENCH_ARGS` (e.g.
/// `--parallelism 16`), to compare against the defaults.
pub fn extra_args() -> Vec<String> {
    std::env::var("ACCESSCTL_BENCH_ARGS")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

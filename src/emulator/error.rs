//! Errors of the emulator: [`EmulatorError`] for the Rust API (seed loading,
//! binding a socket) and [`ApiError`] for HTTP answers, which always carry a
//! Wix-shaped JSON body so the client's error parsing is exercised.
//!
//! Neither type ever contains an API key: messages name the header or the
//! account, never the key text.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::wire::{ApplicationError, ErrorBody, ErrorDetails, FieldViolation, ValidationError};

/// Failure of the emulator's Rust API.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot read emulator seed {}: {source}", path.display())]
    ReadSeed {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("emulator seed{}: invalid YAML: {message}", fmt_path(path))]
    ParseSeed {
        path: Option<PathBuf>,
        message: String,
    },
    /// Over the seed parser's size limits (`seed::MAX_SEED_NODES`, …).
    #[error(
        "emulator seed{} is too large: it holds {limit}; seed a bigger state \
         through the `/_emulator` controls or build the `Seed` in code",
        fmt_path(path)
    )]
    SeedTooLarge {
        path: Option<PathBuf>,
        limit: String,
    },
    #[error(
        "emulator seed{} is invalid:{}",
        fmt_path(path),
        fmt_problems(problems)
    )]
    InvalidSeed {
        path: Option<PathBuf>,
        problems: Vec<String>,
    },
    #[error("wix emulator cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("wix emulator stopped: {source}")]
    Serve {
        #[source]
        source: std::io::Error,
    },
}

impl EmulatorError {
    /// Attach the seed file path so the message says which file is wrong.
    pub(crate) fn with_path(self, file: &std::path::Path) -> Self {
        match self {
            EmulatorError::ParseSeed { message, .. } => EmulatorError::ParseSeed {
                path: Some(file.to_path_buf()),
                message,
            },
            EmulatorError::SeedTooLarge { limit, .. } => EmulatorError::SeedTooLarge {
                path: Some(file.to_path_buf()),
                limit,
            },
            EmulatorError::InvalidSeed { problems, .. } => EmulatorError::InvalidSeed {
                path: Some(file.to_path_buf()),
                problems,
            },
            other => other,
        }
    }
}

fn fmt_path(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" {}", p.display()),
        None => String::new(),
    }
}

fn fmt_problems(problems: &[String]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// An HTTP error answer in the Wix error shape. Boxed so `Result<_, ApiError>`
/// stays small on the happy path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorInner>);

#[derive(Debug, Clone)]
struct ApiErrorInner {
    status: StatusCode,
    body: ErrorBody,
    /// `Allow` header value for 405 answers.
    allow: Option<&'static str>,
    /// `Retry-After` seconds for 429 answers of the rate limiter.
    retry_after: Option<u64>,
}

impl ApiError {
    fn application(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError(Box::new(ApiErrorInner {
            status,
            body: ErrorBody {
                message: message.clone(),
                details: ErrorDetails::ApplicationError(ApplicationError {
                    code: code.to_owned(),
                    description: message,
                    data: json!({}),
                }),
            },
            allow: None,
            retry_after: None,
        }))
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::application(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::application(StatusCode::FORBIDDEN, "PERMISSION_DENIED", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::application(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 400 for a bad header or an unparseable body (not a field violation).
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::application(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    /// 409, used by the test controls (e.g. accepting a non-pending invite).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::application(StatusCode::CONFLICT, "ABORTED", message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::application(StatusCode::PAYLOAD_TOO_LARGE, "INVALID_ARGUMENT", message)
    }

    /// 405; `allow` (e.g. `"POST"`) also goes into the `Allow` header.
    pub fn method_not_allowed(allow: Option<&'static str>) -> Self {
        let message = match allow {
            Some(allow) => format!("method not allowed on this path; allowed: {allow}"),
            None => "method not allowed on this path".to_owned(),
        };
        let mut err = Self::application(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            message,
        );
        err.0.allow = allow;
        err
    }

    /// 429 from the emulator's rate limiter, with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut err = Self::application(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            format!("too many requests; retry after {retry_after_secs} s"),
        );
        err.0.retry_after = Some(retry_after_secs);
        err
    }

    /// An injected error answer (fault rule), with a code matching the status.
    pub fn injected(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            501 => "UNIMPLEMENTED",
            502 | 503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            500 => "INTERNAL",
            _ => "UNKNOWN",
        };
        Self::application(
            status,
            code,
            format!("injected fault: HTTP {}", status.as_u16()),
        )
    }

    /// 400 with `details.validationError.fieldViolations`.
    pub fn validation(violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [one] => format!("{}: {}", one.field, one.description),
            _ => format!("{} invalid fields", violations.len()),
        };
        ApiError(Box::new(ApiErrorInner {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                message,
                details: ErrorDetails::ValidationError(ValidationError {
                    field_violations: violations,
                }),
            },
            allow: None,
            retry_after: None,
        }))
    }

    pub fn violation(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::validation(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiErrorInner {
            status,
            body,
            allow,
            retry_after,
        } = *self.0;
        let mut response = (status, Json(body)).into_response();
        if let Some(allow) = allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

//! Reading an answer's body with a cap: a platform (or whatever answers in
//! its place) is hostile, and an endless or huge body must not exhaust
//! memory. Shared by every provider.

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the cap (by its `Content-Length`, or as it arrived).
    TooLarge { cap: usize },
    /// The connection failed part-way.
    Cut(reqwest::Error),
}

impl BodyError {
    /// "larger than N bytes" (KiB or MiB when round).
    pub fn too_large(cap: usize) -> String {
        crate::confine::larger_than(cap as u64)
    }
}

/// The whole body, refused as soon as it passes `cap` bytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge { cap });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Cut)? {
        if bytes.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge { cap });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

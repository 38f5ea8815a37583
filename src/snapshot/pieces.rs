//! A snapshot read a site at a time. serde_json parses text in memory
//! several times faster than from a reader, which it takes byte by byte;
//! but a 10,000-site snapshot is 40 MiB of text, and holding it whole would
//! add that to the run's peak memory. So the stream is cut as it is read:
//! the envelope (the document with `sites` empty) and one piece per site,
//! each parsed from memory as soon as it is complete.
//!
//! The cut follows only strings, brackets and the separators between
//! sites. Anything it does not expect, and any piece serde_json refuses,
//! makes it give up: the caller then reads the file in one pass, for
//! serde_json's own error at its own position. It accepts nothing that
//! pass would not: the pieces and the envelope are parsed in full, and the
//! text between sites must be exactly `{…}` elements separated by commas.

use std::io::BufRead;

use super::{SiteSnapshot, Snapshot};

/// The snapshot `reader` holds, or `None` when the cut gave up (see the
/// module's documentation).
pub(super) fn read(mut reader: impl BufRead) -> Option<Snapshot> {
    let mut cut = Cut::default();
    loop {
        let chunk = reader.fill_buf().ok()?;
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        cut.feed(chunk)?;
        reader.consume(len);
    }
    cut.finish()
}

/// Largest site held as text: a site of a thousand contributors takes about
/// 100 KiB. A larger one (a hostile file) is left to the one-pass reading,
/// which never holds the text.
const PIECE_CAP: usize = 8 * 1024 * 1024;

/// Largest document held without its sites; accessctl writes under 1 KiB.
const ENVELOPE_CAP: usize = 1024 * 1024;

/// JSON's insignificant whitespace.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\n' | b'\r' | b'\t')
}

/// Where the cut stands in the `sites` array.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Sites {
    /// Not in it (before, after, or in another array).
    #[default]
    Outside,
    /// After its `[`: a site or `]` comes next.
    Opened,
    /// After a site: `,` or `]` comes next.
    AfterSite,
    /// After a `,`: a site comes next.
    AfterComma,
    /// In a site's object.
    InSite,
}

#[derive(Default)]
struct Cut {
    /// The document without the sites' bodies (and without insignificant
    /// whitespace).
    envelope: Vec<u8>,
    /// The site being cut.
    piece: Vec<u8>,
    sites: Vec<SiteSnapshot>,
    /// Brackets open: 1 inside the top-level object, 2 in its arrays'
    /// (and objects') values, 3 in a site.
    depth: usize,
    in_string: bool,
    /// The previous byte of a string was an unescaped backslash.
    escaped: bool,
    /// At depth 1: a key comes next (after `{` or `,`), not a value.
    expect_key: bool,
    /// Where the last key at depth 1 began in `envelope`.
    key_start: usize,
    /// The last key read at depth 1 was `sites`.
    sites_key: bool,
    state: Sites,
}

impl Cut {
    fn out(&mut self) -> &mut Vec<u8> {
        if self.state == Sites::InSite {
            &mut self.piece
        } else {
            &mut self.envelope
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Option<()> {
        let mut i = 0;
        while i < chunk.len() {
            if self.piece.len() > PIECE_CAP || self.envelope.len() > ENVELOPE_CAP {
                return None;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    self.out().push(chunk[i]);
                    i += 1;
                    continue;
                }
                let Some(k) = memchr::memchr2(b'"', b'\\', &chunk[i..]) else {
                    self.out().extend_from_slice(&chunk[i..]);
                    return Some(());
                };
                let end = i + k;
                self.out().extend_from_slice(&chunk[i..=end]);
                i = end + 1;
                if chunk[end] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 1 && self.expect_key {
                        self.sites_key = &self.envelope[self.key_start..] == b"\"sites\"";
                    }
                }
                continue;
            }
            // Indentation is most of a pretty-printed snapshot's bytes.
            let Some(k) = chunk[i..].iter().position(|b| !is_space(*b)) else {
                return Some(());
            };
            let byte = chunk[i + k];
            i += k + 1;
            self.structure(byte)?;
        }
        Some(())
    }

    /// One byte outside strings, not whitespace.
    fn structure(&mut self, byte: u8) -> Option<()> {
        match (self.state, byte) {
            (Sites::Opened | Sites::AfterComma, b'{') => {
                self.state = Sites::InSite;
                self.depth += 1;
                self.piece.push(b'{');
            }
            (Sites::AfterSite, b',') => self.state = Sites::AfterComma,
            (Sites::Opened | Sites::AfterSite, b']') => {
                self.state = Sites::Outside;
                self.sites_key = false;
                self.depth -= 1;
                self.envelope.push(b']');
            }
            (Sites::Opened | Sites::AfterSite | Sites::AfterComma, _) => return None,
            (Sites::InSite, b']') if self.depth == 3 => return None,
            (Sites::InSite, b'}') if self.depth == 3 => {
                self.piece.push(b'}');
                self.depth -= 1;
                let site = serde_json::from_slice::<SiteSnapshot>(&self.piece).ok()?;
                self.sites.push(site);
                self.piece.clear();
                self.state = Sites::AfterSite;
            }
            (_, b'"') => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.key_start = self.envelope.len();
                }
                self.out().push(b'"');
            }
            (_, b'{' | b'[') => {
                let opens_sites = self.state == Sites::Outside
                    && self.depth == 1
                    && byte == b'['
                    && self.sites_key
                    && !self.expect_key;
                self.depth += 1;
                self.expect_key = self.depth == 1;
                self.out().push(byte);
                if opens_sites {
                    self.state = Sites::Opened;
                }
            }
            (_, b'}' | b']') => {
                self.depth = self.depth.checked_sub(1)?;
                self.out().push(byte);
            }
            (_, b',') => {
                self.expect_key = self.depth == 1;
                self.out().push(b',');
            }
            (_, b':') => {
                if self.depth == 1 {
                    self.expect_key = false;
                }
                self.out().push(b':');
            }
            (_, other) => self.out().push(other),
        }
        Some(())
    }

    fn finish(self) -> Option<Snapshot> {
        if self.in_string || self.depth != 0 || self.state != Sites::Outside {
            return None;
        }
        let mut snapshot = serde_json::from_slice::<Snapshot>(&self.envelope).ok()?;
        if !snapshot.sites.is_empty() {
            // `sites` was not where the cut looked for it (an escaped key):
            // the envelope held it whole, and no site was cut.
            if !self.sites.is_empty() {
                return None;
            }
            return Some(snapshot);
        }
        snapshot.sites = self.sites;
        Some(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str) -> Option<Snapshot> {
        // One byte at a time too: every state must survive a chunk's end.
        let whole = read(text.as_bytes());
        let bytewise = read(std::io::BufReader::with_capacity(1, text.as_bytes()));
        assert_eq!(whole, bytewise, "{text}");
        whole
    }

    fn site(key: &str) -> String {
        format!(
            r#"{{"site": "{key}", "site_id": "id-{key}", "wix": {{"status": "failed", "error": "x \"]}}{{\\ y"}}, "ledger": null}}"#
        )
    }

    fn document(sites: &str) -> String {
        format!(
            r#"{{"snapshot_version": 1, "tool_version": "0.1.0", "taken_at": "2026-01-01T00:00:00Z",
               "config_digest": "d", "ledger_check": "verified", "sites": {sites}}}"#
        )
    }

    #[test]
    fn equals_the_one_pass_reading() {
        for sites in [
            "[]".to_string(),
            format!("[{}]", site("a")),
            format!("[ {} ,\n {} ]", site("a"), site("b")),
        ] {
            let text = document(&sites);
            let one_pass: Snapshot = serde_json::from_str(&text).unwrap();
            assert_eq!(cut(&text), Some(one_pass), "{text}");
        }
    }

    #[test]
    fn gives_up_on_what_one_pass_refuses() {
        for sites in [
            format!("[{},]", site("a")),
            format!("[,{}]", site("a")),
            format!("[{} {}]", site("a"), site("b")),
            format!("[{}, 1]", site("a")),
            format!("[{}}}", site("a")),
            format!("[{}", site("a")),
            "[{\"site\": \"a\"}]".to_string(),
        ] {
            let text = document(&sites);
            assert!(serde_json::from_str::<Snapshot>(&text).is_err(), "{text}");
            assert_eq!(cut(&text), None, "{text}");
        }
        for text in ["", "[]", "{", "}", "\"", &format!("{} x", document("[]"))] {
            assert_eq!(cut(text), None, "{text}");
        }
    }

    proptest::proptest! {
        /// Whatever a byte of a good snapshot is replaced with, or wherever
        /// the text is cut short, the cut reads what the one pass reads or
        /// gives up: never a snapshot the one pass would refuse.
        #[test]
        fn never_reads_what_one_pass_refuses(at in 0usize..1000, byte in proptest::sample::select(b"{}[],:\" \\x0\n".to_vec()), cut_short in proptest::bool::ANY) {
            let good = document(&format!("[{}, {}]", site("a"), site("b")));
            let mut text = good.into_bytes();
            let at = at % text.len();
            if cut_short {
                text.truncate(at);
            } else {
                text[at] = byte;
            }
            let one_pass = serde_json::from_slice::<Snapshot>(&text).ok();
            let read = read(&text[..]);
            if read.is_some() {
                proptest::prop_assert_eq!(read, one_pass);
            }
        }
    }

    #[test]
    fn a_huge_site_or_envelope_is_left_to_the_one_pass_reading() {
        let huge = "x".repeat(PIECE_CAP + 1);
        let text = document(&format!("[{}]", site("a").replace("x \\\"", &huge)));
        assert!(text.len() > PIECE_CAP, "the site holds the long error");
        assert_eq!(read(text.as_bytes()), None);
        let text = document("[]").replace("\"d\"", &format!("\"{}\"", "d".repeat(ENVELOPE_CAP)));
        assert_eq!(read(text.as_bytes()), None);
    }

    #[test]
    fn a_key_named_sites_elsewhere_is_not_the_sites() {
        // `sites` as a value, and an escaped `sites` key: the envelope
        // holds everything, and the one-pass reading decides.
        let text = document(&format!("[{}]", site("a")))
            .replace("\"tool_version\": \"0.1.0\"", "\"tool_version\": \"sites\"")
            .replace("\"sites\": [", "\"s\\u0069tes\": [");
        let one_pass: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(cut(&text), Some(one_pass));
    }
}

//! Lowercase hexadecimal: the one encoder for digests, signatures and keys.
//!
//! Every hash and key accessctl shows or records (config digests, site
//! fingerprints, message digests, ledger signatures, webhook signatures) is
//! written as lowercase hex through `encode`, so they all read alike and a
//! change of spelling happens in one place. Decoding lives with the one
//! caller that reads hex back (`ledger::auth`, key and signature parsing).

/// `bytes` as lowercase hex, two digits per byte.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodes_lowercase_two_digits_per_byte() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x00, 0x0a, 0xff, 0x5c]), "000aff5c");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(encode(&all), expected);
    }
}

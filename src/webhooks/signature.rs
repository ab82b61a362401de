//! HMAC-SHA256 signatures of webhook bodies: the one Palimpsest sends, and the ones forges
//! send with their push webhooks (GitHub's `X-Hub-Signature-256` and Gitea's
//! `X-Gitea-Signature` are both the hex HMAC-SHA256 of the body under the shared secret).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(keyed(secret, body).finalize().into_bytes())
}

/// Whether `hex_signature` is the HMAC-SHA256 of `body` under `secret`, compared in constant
/// time; anything that is not hex is no signature.
pub fn verify(secret: &str, body: &[u8], hex_signature: &str) -> bool {
    match hex::decode(hex_signature.trim()) {
        Ok(signature) => keyed(secret, body).verify_slice(&signature).is_ok(),
        Err(_) => false,
    }
}

fn keyed(secret: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn a_signature_is_the_standard_hmac_sha256() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_the_right_secret_and_body_verify() {
        let signature = sign("secret", b"body");
        assert!(verify("secret", b"body", &signature));
        assert!(!verify("other", b"body", &signature));
        assert!(!verify("secret", b"body!", &signature));
        assert!(!verify("secret", b"body", "not hex"));
        assert!(!verify("secret", b"body", ""));
    }
}

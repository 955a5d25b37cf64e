//! Personal data at rest: the key, sealing values with AES-256-GCM, and the
//! keyed hash that lets a sealed value be found again (a caller's number).
//!
//! One 32-byte master key, from the `SWITCHBOARD_PII_KEY` environment
//! variable (64 hex digits) or from a key file (`[privacy] key_file`),
//! never from the database. Two keys are derived from it with HKDF-SHA-256:
//! one seals, one hashes, so a hash reveals nothing about the sealing key.
//!
//! A sealed value is text, `enc1:` then base64 of a random 96-bit nonce and
//! the ciphertext with its tag; every sealing of the same value differs.
//! The hash of a value is HMAC-SHA-256 under the hash key, in hex: equal
//! values hash equally, so a column of hashes can be searched by number.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The environment variable that holds the master key (64 hex digits).
pub const KEY_ENV: &str = "SWITCHBOARD_PII_KEY";
/// Prefix of a sealed value (format version 1).
const SEALED_PREFIX: &str = "enc1:";
const NONCE_LEN: usize = 12;

/// Why personal data cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("{KEY_ENV} must be 64 hex digits (a 32-byte key)")]
    BadEnvKey,
    #[error("the key file {0} must hold 64 hex digits (a 32-byte key)")]
    BadKeyFile(PathBuf),
    #[error(
        "no key for personal data: set {KEY_ENV} or create the key file {0} (`switchboard serve` creates one on its first start)"
    )]
    NoKey(PathBuf),
    #[error("the key file {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("a sealed value is damaged, or was sealed with another key")]
    Open,
}

/// Where the key came from (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    /// A new key, just written to this file.
    Created(PathBuf),
    /// Random, for this process only (tests, in-memory stores).
    Ephemeral,
}

/// The keys that seal and hash personal data.
#[derive(Clone)]
pub struct PiiKey {
    cipher: Aes256Gcm,
    hash_key: [u8; 32],
    source: KeySource,
}

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

impl PiiKey {
    /// The keys derived from `master`.
    pub fn from_master(master: &[u8; 32], source: KeySource) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"switchboard personal data"), master);
        let mut seal = [0u8; 32];
        let mut hash_key = [0u8; 32];
        hk.expand(b"seal v1", &mut seal)
            .expect("32 bytes is a valid HKDF output");
        hk.expand(b"hash v1", &mut hash_key)
            .expect("32 bytes is a valid HKDF output");
        Self {
            cipher: Aes256Gcm::new(&seal.into()),
            hash_key,
            source,
        }
    }

    /// A random key that lives as long as the process (tests).
    pub fn ephemeral() -> Self {
        let mut master = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut master);
        Self::from_master(&master, KeySource::Ephemeral)
    }

    /// The key from `SWITCHBOARD_PII_KEY`, else from `file`. When neither
    /// exists and `create` is set, a new random key is written to `file`
    /// (readable by its owner only).
    pub fn load(file: &Path, create: bool) -> Result<Self, PiiError> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            let master = parse_hex_key(&text).ok_or(PiiError::BadEnvKey)?;
            return Ok(Self::from_master(&master, KeySource::Env));
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let master =
                    parse_hex_key(&text).ok_or_else(|| PiiError::BadKeyFile(file.into()))?;
                Ok(Self::from_master(&master, KeySource::File(file.into())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut master = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut master);
                write_key_file(file, &master).map_err(|e| PiiError::Io(file.into(), e))?;
                Ok(Self::from_master(&master, KeySource::Created(file.into())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(PiiError::NoKey(file.into())),
            Err(e) => Err(PiiError::Io(file.into(), e)),
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// `value` sealed: `enc1:` and base64 of nonce, ciphertext and tag.
    pub fn seal(&self, value: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), value.as_bytes())
            .expect("AES-GCM seals any value of a few kilobytes");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", B64.encode(out))
    }

    /// The value `text` seals. Text that is not sealed (written before
    /// sealing existed) is returned as it is, so old rows stay readable
    /// until [`is_sealed`] says they were migrated.
    pub fn open(&self, text: &str) -> Result<String, PiiError> {
        let Some(b64) = text.strip_prefix(SEALED_PREFIX) else {
            return Ok(text.to_string());
        };
        let raw = B64.decode(b64).map_err(|_| PiiError::Open)?;
        if raw.len() < NONCE_LEN {
            return Err(PiiError::Open);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| PiiError::Open)?;
        String::from_utf8(plain).map_err(|_| PiiError::Open)
    }

    /// The keyed hash of `value` (hex), for finding sealed values by it.
    pub fn hash(&self, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key).expect("any key length");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Whether `text` is a sealed value.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// Writes a new key file readable by its owner only.
fn write_key_file(file: &Path, master: &[u8; 32]) -> std::io::Result<()> {
    if let Some(parent) = file.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(file)?;
    writeln!(f, "{}", hex::encode(master))?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_never_repeats() {
        let k = PiiKey::ephemeral();
        let a = k.seal("+15550777");
        let b = k.seal("+15550777");
        assert!(is_sealed(&a) && a != b, "{a} {b}");
        assert!(!a.contains("15550777"));
        assert_eq!(k.open(&a).unwrap(), "+15550777");
        assert_eq!(k.open(&b).unwrap(), "+15550777");
        assert_eq!(k.open("plain, from before").unwrap(), "plain, from before");
    }

    #[test]
    fn another_key_or_damage_cannot_open() {
        let k = PiiKey::ephemeral();
        let sealed = k.seal("Ada Lovelace");
        assert!(matches!(
            PiiKey::ephemeral().open(&sealed),
            Err(PiiError::Open)
        ));
        let mut damaged = sealed.clone();
        damaged.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert!(matches!(k.open(&damaged), Err(PiiError::Open)));
        assert!(matches!(k.open("enc1:!!"), Err(PiiError::Open)));
        assert!(matches!(k.open("enc1:AAAA"), Err(PiiError::Open)));
    }

    #[test]
    fn hashes_are_keyed_and_stable() {
        let master = [7u8; 32];
        let k1 = PiiKey::from_master(&master, KeySource::Ephemeral);
        let k2 = PiiKey::from_master(&master, KeySource::Ephemeral);
        assert_eq!(k1.hash("+15550777"), k2.hash("+15550777"));
        assert_ne!(k1.hash("+15550777"), k1.hash("+15550778"));
        assert_ne!(k1.hash("+15550777"), PiiKey::ephemeral().hash("+15550777"));
        assert_eq!(k1.hash("x").len(), 64);
        // The same master opens what the other sealed.
        assert_eq!(k2.open(&k1.seal("x")).unwrap(), "x");
    }

    #[test]
    fn key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys/pii.key");
        assert!(matches!(
            PiiKey::load(&file, false),
            Err(PiiError::NoKey(_))
        ));
        let created = PiiKey::load(&file, true).unwrap();
        assert_eq!(created.source(), &KeySource::Created(file.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only: {mode:o}");
        }
        let again = PiiKey::load(&file, true).unwrap();
        assert_eq!(again.source(), &KeySource::File(file.clone()));
        assert_eq!(again.open(&created.seal("same key")).unwrap(), "same key");
        std::fs::write(&file, "not hex").unwrap();
        assert!(matches!(
            PiiKey::load(&file, false),
            Err(PiiError::BadKeyFile(_))
        ));
    }
}

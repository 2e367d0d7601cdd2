//! What a file's bytes hold: private keys (PEM, OpenSSH, PuTTY, DER) and credential files. Pure
//! functions of the bytes (and the path, for credential files). Findings name the kind only: no
//! byte of a key or secret ever leaves these functions.

use memchr::memmem;

/// A file whose first `BINARY_PROBE` bytes hold a NUL byte is binary (executables, libraries,
/// archives, images all have one within their headers): only DER key encodings are recognised in
/// it, from its first bytes, and the rest is never read. Every file costs one read of at most this
/// size; text files are then read whole.
pub const BINARY_PROBE: usize = 1024;

/// True when `head` (a file's first bytes) marks a binary file.
pub fn is_binary(head: &[u8]) -> bool {
    memchr::memchr(0, &head[..head.len().min(BINARY_PROBE)]).is_some()
}

/// A private key found in a file: its format, never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyKind(pub String);

/// The private keys a text file holds (each kind once, in order of appearance).
pub fn keys_in_text(text: &[u8]) -> Vec<KeyKind> {
    let mut out: Vec<KeyKind> = Vec::new();
    let mut push = |kind: String| {
        if !out.iter().any(|k| k.0 == kind) {
            out.push(KeyKind(kind));
        }
    };
    if text.starts_with(b"PuTTY-User-Key-File-") {
        let encrypted = memmem::find(text, b"Encryption: none").is_none();
        push(format!(
            "PuTTY private key ({})",
            if encrypted {
                "encrypted"
            } else {
                "not encrypted"
            }
        ));
    }
    for at in memmem::find_iter(text, b"PRIVATE KEY") {
        if let Some(kind) = pem_block_at(text, at) {
            push(kind);
        }
    }
    out
}

/// The longest begin line considered (`-----BEGIN <label>-----` with blanks around it).
const MAX_BEGIN_LINE: usize = 96;
/// Armor header or blank lines allowed between a begin line and the base64 body (OpenPGP
/// `Version:`/`Comment:`, PEM `Proc-Type:`/`DEK-Info:`, SSH2 `Comment:`), and their longest.
const MAX_HEADER_LINES: usize = 8;
const MAX_HEADER_LINE: usize = 256;

/// The line of `text` from `start` up to its end (without `\r\n`), if it ends within `limit`
/// bytes (or at the end of the text): every marker costs a bounded amount of work, whatever the
/// file holds.
fn line_from(text: &[u8], start: usize, limit: usize) -> Option<(usize, usize)> {
    let hi = (start + limit).min(text.len());
    let end = match memchr::memchr(b'\n', &text[start..hi]) {
        Some(i) => start + i,
        None if hi == text.len() => text.len(),
        None => return None,
    };
    let end = if end > start && text[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    Some((start, end))
}

/// The start of the line holding byte `at`, if it begins within `MAX_BEGIN_LINE` bytes before.
fn line_start(text: &[u8], at: usize) -> Option<usize> {
    let lo = at.saturating_sub(MAX_BEGIN_LINE);
    match memchr::memrchr(b'\n', &text[lo..at]) {
        Some(i) => Some(lo + i + 1),
        None if lo == 0 => Some(0),
        None => None,
    }
}

fn is_base64_line(line: &[u8]) -> bool {
    line.len() >= 16
        && line
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// If the `PRIVATE KEY` at `at` belongs to a PEM begin line (`-----BEGIN <label>-----` alone on
/// its line, or SSH2's `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`) followed, after at most a few
/// armor header lines, by a base64 body line, the key's kind. The end line is not required: a
/// truncated key is still key material.
fn pem_block_at(text: &[u8], at: usize) -> Option<String> {
    let (start, end) = line_from(text, line_start(text, at)?, 2 * MAX_BEGIN_LINE)?;
    let line = text[start..end].trim_ascii();
    let label = if let Some(label) = line
        .strip_prefix(b"-----BEGIN ")
        .and_then(|l| l.strip_suffix(b"-----"))
    {
        label
    } else if line == b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----" {
        &b"SSH2 ENCRYPTED PRIVATE KEY"[..]
    } else {
        return None;
    };
    if !label
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ')
        || !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK"))
    {
        return None;
    }
    let mut legacy_encrypted = false;
    let mut pos = end;
    for _ in 0..=MAX_HEADER_LINES {
        // Past this line's break.
        pos = memchr::memchr(b'\n', &text[pos..(pos + 2).min(text.len())])
            .map(|i| pos + i + 1)
            .unwrap_or(text.len());
        let (line_start, line_end) = line_from(text, pos, MAX_HEADER_LINE)?;
        let line = text[line_start..line_end].trim_ascii();
        if is_base64_line(line) {
            return Some(pem_kind(label, &text[line_start..], legacy_encrypted));
        }
        // Armor headers are `Name: value` (SSH2 continues them with a backslash).
        if !(line.is_empty() || line.contains(&b':') || line.ends_with(b"\\")) {
            return None;
        }
        legacy_encrypted |= line.starts_with(b"Proc-Type: 4,ENCRYPTED");
        pos = line_end;
    }
    None
}

fn pem_kind(label: &[u8], body: &[u8], legacy_encrypted: bool) -> String {
    let label = String::from_utf8_lossy(label);
    match label.as_ref() {
        "OPENSSH PRIVATE KEY" => match openssh_cipher(body) {
            Some(cipher) if cipher == "none" => "OpenSSH private key (not encrypted)".into(),
            Some(cipher) => format!("OpenSSH private key (encrypted, {cipher})"),
            None => "OpenSSH private key".into(),
        },
        "PRIVATE KEY" => "PEM private key (PKCS#8, not encrypted)".into(),
        "ENCRYPTED PRIVATE KEY" => "PEM private key (PKCS#8, encrypted)".into(),
        "PGP PRIVATE KEY BLOCK" => "OpenPGP private key block".into(),
        "SSH2 ENCRYPTED PRIVATE KEY" => "SSH2 private key (encrypted)".into(),
        other => format!(
            "PEM {other} ({})",
            if legacy_encrypted {
                "encrypted"
            } else {
                "not encrypted"
            }
        ),
    }
}

/// The cipher name in an OpenSSH key's body (`none` when unencrypted): base64 of
/// `openssh-key-v1\0`, then a length-prefixed cipher name.
fn openssh_cipher(body: &[u8]) -> Option<String> {
    let b64: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take(96)
        .collect();
    let raw = base64_decode(&b64[..b64.len() / 4 * 4]);
    let rest = raw.strip_prefix(b"openssh-key-v1\0")?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let name = rest.get(4..4 + len)?;
    name.iter()
        .all(|b| b.is_ascii_graphic())
        .then(|| String::from_utf8_lossy(name).into_owned())
}

/// Standard base64 (stops at the first byte outside the alphabet).
fn base64_decode(input: &[u8]) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    for quad in input.chunks_exact(4) {
        let mut n = 0u32;
        for c in quad {
            match value(*c) {
                Some(v) => n = n << 6 | v,
                None => return out,
            }
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out
}

/// A DER TLV header at the start of `bytes`: (tag, header length, content length).
fn der_header(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)? as usize;
    if first < 0x80 {
        return Some((tag, 2, first));
    }
    let n = first & 0x7f;
    if n == 0 || n > 3 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = len << 8 | *bytes.get(2 + i)? as usize;
    }
    Some((tag, 2 + n, len))
}

const OID_PBES2: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d,
];
const OID_PKCS12_PBE_PREFIX: &[u8] = &[
    0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01,
];

/// A binary (DER) private key: the whole file is one SEQUENCE (`size` is the file's size) whose
/// content is a PKCS#8 PrivateKeyInfo (version 0 or 1, then an AlgorithmIdentifier), a PKCS#1
/// RSA or OpenSSL DSA key (version 0, then an INTEGER), an SEC1 EC key (version 1, then an OCTET
/// STRING), or a PKCS#8 EncryptedPrivateKeyInfo (PBES2 or PKCS#12 PBE algorithm, then an OCTET
/// STRING). Certificates, PKCS#12 stores and other DER never match.
pub fn der_key(head: &[u8], size: u64) -> Option<KeyKind> {
    let (tag, header, len) = der_header(head)?;
    if tag != 0x30 || (header + len) as u64 != size {
        return None;
    }
    let content = head.get(header..)?;
    let kind = if content.starts_with(&[0x02, 0x01, 0x00, 0x30])
        || content.starts_with(&[0x02, 0x01, 0x01, 0x30])
    {
        "DER private key (PKCS#8, not encrypted)"
    } else if content.starts_with(&[0x02, 0x01, 0x00, 0x02]) {
        "DER RSA or DSA private key (not encrypted)"
    } else if content.starts_with(&[0x02, 0x01, 0x01, 0x04]) {
        "DER EC private key (SEC1, not encrypted)"
    } else {
        // EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier { OID, params }, OCTET STRING }.
        let (inner_tag, inner_header, _) = der_header(content)?;
        let alg = content.get(inner_header..)?;
        if inner_tag == 0x30
            && (alg.starts_with(OID_PBES2) || alg.starts_with(OID_PKCS12_PBE_PREFIX))
        {
            "DER private key (PKCS#8, encrypted)"
        } else {
            return None;
        }
    };
    Some(KeyKind(kind.into()))
}

/// Credential files recognised by path, confirmed by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredentialKind {
    AwsCredentials,
    DockerConfig,
    Netrc,
    GitCredentials,
    Kubeconfig,
}

impl CredentialKind {
    pub fn describe(self) -> &'static str {
        match self {
            CredentialKind::AwsCredentials => "AWS credentials file with a secret access key",
            CredentialKind::DockerConfig => "Docker config with registry credentials (auths)",
            CredentialKind::Netrc => ".netrc with a password",
            CredentialKind::GitCredentials => "Git credential store with a password or token",
            CredentialKind::Kubeconfig => "kubeconfig with a user token, password or client key",
        }
    }
}

/// Which credential file `path` (inside the target) would be, by its name.
pub fn credential_candidate(path: &str) -> Option<CredentialKind> {
    let (dir, name) = path.rsplit_once('/')?;
    let parent = dir.rsplit('/').next().unwrap_or("");
    match (parent, name) {
        (".aws", "credentials") => Some(CredentialKind::AwsCredentials),
        (".docker", "config.json") => Some(CredentialKind::DockerConfig),
        (_, ".netrc" | "_netrc") => Some(CredentialKind::Netrc),
        (_, ".git-credentials") => Some(CredentialKind::GitCredentials),
        (".kube", "config") => Some(CredentialKind::Kubeconfig),
        (_, "kubeconfig" | "kubeconfig.yaml" | "kubeconfig.yml") => {
            Some(CredentialKind::Kubeconfig)
        }
        (_, n) if n.ends_with(".kubeconfig") => Some(CredentialKind::Kubeconfig),
        _ if dir == "/etc/kubernetes" && name.ends_with(".conf") => {
            Some(CredentialKind::Kubeconfig)
        }
        _ => None,
    }
}

/// True when a candidate file's text holds a secret of its kind (not merely the file's shape).
pub fn credential_present(kind: CredentialKind, text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text);
    let value_of = |line: &str, key: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(key)?.trim_start();
        let rest = rest.strip_prefix([':', '='])?;
        let value = rest.trim().trim_matches(['"', '\'']);
        (!value.is_empty() && value != "null" && value != "~").then(|| value.to_string())
    };
    match kind {
        CredentialKind::AwsCredentials => text.lines().any(|l| {
            value_of(l, "aws_secret_access_key").is_some()
                || value_of(l, "aws_session_token").is_some()
        }),
        CredentialKind::DockerConfig => {
            let Ok(config) = serde_json::from_str::<serde_json::Value>(&text) else {
                return false;
            };
            config["auths"].as_object().is_some_and(|auths| {
                auths.values().any(|entry| {
                    ["auth", "identitytoken", "password", "registrytoken"]
                        .iter()
                        .any(|k| entry[*k].as_str().is_some_and(|v| !v.is_empty()))
                })
            })
        }
        CredentialKind::Netrc => {
            let tokens: Vec<&str> = text.split_whitespace().collect();
            tokens
                .windows(2)
                .any(|w| w[0] == "password" && !w[1].is_empty())
        }
        CredentialKind::GitCredentials => text.lines().any(|l| {
            l.split_once("://")
                .and_then(|(_, rest)| rest.split_once('@'))
                .is_some_and(|(userinfo, _)| {
                    userinfo
                        .split_once(':')
                        .is_some_and(|(_, secret)| !secret.is_empty())
                })
        }),
        CredentialKind::Kubeconfig => text.lines().any(|l| {
            ["token", "client-key-data", "client-key", "password"]
                .iter()
                .any(|k| value_of(l, k).is_some())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n";

    fn pem(label: &str, body: &str) -> String {
        format!("-----BEGIN {label}-----\n{body}-----END {label}-----\n")
    }

    fn kinds(text: &str) -> Vec<String> {
        keys_in_text(text.as_bytes())
            .into_iter()
            .map(|k| k.0)
            .collect()
    }

    #[test]
    fn pem_private_keys_of_every_kind() {
        assert_eq!(
            kinds(&pem("PRIVATE KEY", BODY)),
            ["PEM private key (PKCS#8, not encrypted)"]
        );
        assert_eq!(
            kinds(&pem("ENCRYPTED PRIVATE KEY", BODY)),
            ["PEM private key (PKCS#8, encrypted)"]
        );
        assert_eq!(
            kinds(&pem("RSA PRIVATE KEY", BODY)),
            ["PEM RSA PRIVATE KEY (not encrypted)"]
        );
        let legacy = pem(
            "EC PRIVATE KEY",
            &format!("Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n{BODY}"),
        );
        assert_eq!(kinds(&legacy), ["PEM EC PRIVATE KEY (encrypted)"]);
        assert_eq!(
            kinds(&pem("PGP PRIVATE KEY BLOCK", BODY)),
            ["OpenPGP private key block"]
        );
        let ssh2 = format!(
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n{BODY}---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
        );
        assert_eq!(kinds(&ssh2), ["SSH2 private key (encrypted)"]);
        // CRLF line ends and a certificate before the key (tls.crt holding both).
        let bundle = format!(
            "{}{}",
            pem("CERTIFICATE", BODY),
            pem("PRIVATE KEY", BODY).replace('\n', "\r\n")
        );
        assert_eq!(kinds(&bundle), ["PEM private key (PKCS#8, not encrypted)"]);
    }

    #[test]
    fn a_truncated_key_is_still_a_key() {
        assert_eq!(
            kinds(&format!("-----BEGIN PRIVATE KEY-----\n{BODY}")),
            ["PEM private key (PKCS#8, not encrypted)"]
        );
        // OpenPGP armor headers before the body.
        let pgp = format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: x\n\n{BODY}"
        );
        assert_eq!(kinds(&pgp), ["OpenPGP private key block"]);
    }

    #[test]
    fn hostile_files_cost_linear_time() {
        // One long line full of markers, and many begin lines without bodies.
        let one_line = "PRIVATE KEY".repeat(95_000);
        let many_begins = "-----BEGIN PRIVATE KEY-----\n".repeat(37_000);
        let long_headers = format!(
            "-----BEGIN PRIVATE KEY-----\n{}",
            format!("H: {}\n", "x".repeat(200)).repeat(5_000)
        );
        let started = std::time::Instant::now();
        for text in [&one_line, &many_begins, &long_headers] {
            assert!(kinds(text).is_empty());
        }
        // Quadratic scanning of these would take minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn openssh_keys_say_whether_they_are_encrypted() {
        // base64("openssh-key-v1\0" + u32 len + cipher name + ...)
        let body = |cipher: &str| {
            let mut raw = b"openssh-key-v1\0".to_vec();
            raw.extend_from_slice(&(cipher.len() as u32).to_be_bytes());
            raw.extend_from_slice(cipher.as_bytes());
            raw.extend_from_slice(&[0u8; 40]);
            format!("{}\n", base64_encode(&raw))
        };
        assert_eq!(
            kinds(&pem("OPENSSH PRIVATE KEY", &body("none"))),
            ["OpenSSH private key (not encrypted)"]
        );
        assert_eq!(
            kinds(&pem("OPENSSH PRIVATE KEY", &body("aes256-ctr"))),
            ["OpenSSH private key (encrypted, aes256-ctr)"]
        );
    }

    fn base64_encode(raw: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in raw.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn putty_keys() {
        let text = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n";
        assert_eq!(kinds(text), ["PuTTY private key (not encrypted)"]);
        let text = "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: aes256-cbc\n";
        assert_eq!(kinds(text), ["PuTTY private key (encrypted)"]);
    }

    #[test]
    fn mentions_of_keys_are_not_keys() {
        for text in [
            // In source code, quoted.
            "const HEADER = \"-----BEGIN RSA PRIVATE KEY-----\";\n",
            // No body.
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
            // Not followed by a base64 body.
            "-----BEGIN PRIVATE KEY-----\nsee the documentation\n",
            // Public keys and certificates.
            &pem("PUBLIC KEY", BODY),
            &pem("CERTIFICATE", BODY),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n",
            // Prose.
            "Keep the PRIVATE KEY file safe.\n",
        ] {
            assert!(kinds(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn der_keys_by_structure_and_size() {
        // PKCS#8 Ed25519 (48 bytes): SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING }
        let mut ed = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        ed.extend_from_slice(&[7u8; 32]);
        assert_eq!(
            der_key(&ed, ed.len() as u64).unwrap().0,
            "DER private key (PKCS#8, not encrypted)"
        );
        // The same bytes with a different file size are not a key.
        assert_eq!(der_key(&ed, 4096), None);
        // PKCS#1 RSA: SEQUENCE (long form) { INTEGER 0, INTEGER modulus ... }
        let rsa = [
            0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01,
        ];
        assert_eq!(
            der_key(&rsa, 0x4a4 + 4).unwrap().0,
            "DER RSA or DSA private key (not encrypted)"
        );
        // SEC1 EC: { INTEGER 1, OCTET STRING }
        let ec = [0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
        assert_eq!(
            der_key(&ec, 0x79).unwrap().0,
            "DER EC private key (SEC1, not encrypted)"
        );
        // EncryptedPrivateKeyInfo with PBES2.
        let mut enc = vec![0x30, 0x82, 0x01, 0x00, 0x30, 0x5d];
        enc.extend_from_slice(OID_PBES2);
        assert_eq!(
            der_key(&enc, 0x104).unwrap().0,
            "DER private key (PKCS#8, encrypted)"
        );
        // A certificate: SEQUENCE { SEQUENCE tbsCertificate ... }.
        let cert = [0x30, 0x82, 0x03, 0x00, 0x30, 0x82, 0x02, 0x00, 0xa0, 0x03];
        assert_eq!(der_key(&cert, 0x304), None);
        // A PKCS#12 store: { INTEGER 3, ... }.
        let p12 = [0x30, 0x82, 0x03, 0x00, 0x02, 0x01, 0x03, 0x30];
        assert_eq!(der_key(&p12, 0x304), None);
        assert_eq!(der_key(b"\x7fELF", 4), None);
        assert_eq!(der_key(b"", 0), None);
    }

    #[test]
    fn binary_probe() {
        assert!(is_binary(b"\x7fELF\x02\x01\x01\x00"));
        assert!(!is_binary(b"plain text\n"));
        let mut late = vec![b'a'; BINARY_PROBE];
        late.push(0);
        assert!(!is_binary(&late));
    }

    #[test]
    fn credential_files_by_name() {
        use CredentialKind::*;
        for (path, kind) in [
            ("/root/.aws/credentials", Some(AwsCredentials)),
            ("/home/u/.docker/config.json", Some(DockerConfig)),
            ("/home/u/.netrc", Some(Netrc)),
            ("/srv/.git-credentials", Some(GitCredentials)),
            ("/home/u/.kube/config", Some(Kubeconfig)),
            ("/opt/app/prod.kubeconfig", Some(Kubeconfig)),
            ("/etc/kubernetes/admin.conf", Some(Kubeconfig)),
            ("/etc/kubernetes/manifests/x.conf", None),
            ("/etc/config.json", None),
            ("/home/u/.aws/config", None),
        ] {
            assert_eq!(credential_candidate(path), kind, "{path}");
        }
    }

    #[test]
    fn credential_content_confirms_a_secret() {
        use CredentialKind::*;
        let yes = [
            (
                AwsCredentials,
                "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = abc/def\n",
            ),
            (
                DockerConfig,
                r#"{"auths":{"registry.example":{"auth":"dXNlcjpwYXNz"}}}"#,
            ),
            (Netrc, "machine example.com login u password p4ss\n"),
            (GitCredentials, "https://user:tok3n@github.com\n"),
            (
                Kubeconfig,
                "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: abc.def\n",
            ),
            (
                Kubeconfig,
                "users:\n- user:\n    client-key-data: LS0tLS1CRUdJTg==\n",
            ),
        ];
        for (kind, text) in yes {
            assert!(
                credential_present(kind, text.as_bytes()),
                "{kind:?}: {text}"
            );
        }
        let no = [
            (
                AwsCredentials,
                "[default]\naws_access_key_id = AKIAEXAMPLE\n",
            ),
            (AwsCredentials, "aws_secret_access_key =\n"),
            (DockerConfig, r#"{"credsStore":"desktop","auths":{"r":{}}}"#),
            (DockerConfig, "not json"),
            (Netrc, "machine example.com login u\n"),
            (GitCredentials, "https://github.com\n"),
            (
                Kubeconfig,
                "users:\n- user:\n    exec:\n      command: aws\n    token: \"\"\n",
            ),
        ];
        for (kind, text) in no {
            assert!(
                !credential_present(kind, text.as_bytes()),
                "{kind:?}: {text}"
            );
        }
    }
}
